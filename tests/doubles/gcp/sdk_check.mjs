#!/usr/bin/env node
// Checks the Google Cloud KMS test double (cloudkms_double.py) against
// Google's own Node client, @google-cloud/kms over its REST transport, and
// google-auth-library, which it uses for credentials: every assertion is on
// what the client returns, so a response the client would read differently
// from Google's fails here.
//
//   node sdk_check.mjs              exit 0 when the double passes every check
//   node sdk_check.mjs --self-test  the double runs with a deliberate deviation;
//                                   the check must fail (exit 1, naming it)
//
// It makes a test CA and certificate (../test_pki.py), starts the double with
// a state directory (its credential files) and waits on its ready file, then
// runs the checks in a child Node process: NODE_EXTRA_CA_CERTS, which makes
// Node trust the test CA, is read only at start-up.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = "trousseau-test";
const LOCATION = "global";
const CLOUDKMS = "https://www.googleapis.com/auth/cloudkms";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const DEVIATIONS = { "wrong-crc32c": "wrong-crc32c", "crc32c-as-number": "crc32c-as-number" };

function fail(message) {
  console.error(`sdk_check: ${message}`);
  process.exit(1);
}

// --- parent: PKI, double, child -------------------------------------------
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", (e) => fail(`cannot run ${cmd}: ${e.message} (run scripts/install-deps --test)`));
    child.on("exit", (code, signal) => resolve(code ?? signal));
  });
}

// Resolves with the double's base URL once its ready file exists; rejects
// if the double exits first. Waits on file-system events, never on time.
function startDouble(dir, name, extraArgs) {
  const ready = path.join(dir, `${name}.ready`);
  const child = spawn("python3", [
    path.join(here, "cloudkms_double.py"), "--port", "0", "--ready-file", ready,
    "--tls-cert", path.join(dir, "server.pem"), "--tls-key", path.join(dir, "server-key.pem"),
    "--state-dir", path.join(dir, name), "--project", PROJECT, "--exit-on-stdin-eof", ...extraArgs,
  ], { stdio: ["pipe", "inherit", "inherit"] }); // the pipe closes if this process dies
  return new Promise((resolve, reject) => {
    let done = false;
    const watcher = fs.watch(dir, () => check());
    const check = () => {
      if (done || !fs.existsSync(ready)) return;
      done = true;
      watcher.close();
      resolve({ child, url: fs.readFileSync(ready, "utf8").trim(), state: path.join(dir, name) });
    };
    child.on("error", (e) => reject(new Error(`cannot start the ${name} double: ${e.message}`)));
    child.on("exit", (code) => {
      if (!done) {
        done = true;
        watcher.close();
        reject(new Error(`the ${name} double exited with status ${code} before it was ready`));
      }
    });
    check();
  });
}

async function parent(deviation) {
  const require = createRequire(import.meta.url);
  for (const pkg of ["@google-cloud/kms", "google-auth-library"]) {
    try {
      require.resolve(`${pkg}/package.json`, { paths: [here, path.join(here, "node_modules", "@google-cloud", "kms")] });
    } catch {
      fail(`cannot load the npm package '${pkg}': ${path.join(here, "node_modules")} is missing ` +
        "or incomplete. Run scripts/install-deps --test (it runs `npm ci` in tests/doubles/gcp).");
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gcp-double-"));
  const children = [];
  const cleanup = () => {
    for (const c of children) c.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = await run("python3", [path.join(here, "..", "test_pki.py"), dir]);
    if (pki !== 0) fail("test_pki.py failed (is python3-cryptography installed? run scripts/install-deps --test)");
    const kms = await startDouble(dir, "kms", deviation ? ["--deviate", deviation] : []);
    children.push(kms.child);
    const config = { url: kms.url, state: kms.state };
    const status = await new Promise((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--client"], {
        stdio: ["ignore", "inherit", "inherit"],
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem"),
          SDK_CHECK_CONFIG: JSON.stringify(config),
          // gcp-metadata's documented override of the metadata server's
          // address (a scheme may be given): the double, over https.
          GCE_METADATA_HOST: kms.url,
          // Application default credentials: the service account key file.
          GOOGLE_APPLICATION_CREDENTIALS: path.join(kms.state, "service-account.json"),
        },
      });
      child.on("exit", (code) => resolve(code ?? 128));
    });
    cleanup();
    process.exit(status === 0 ? 0 : 1);
  } catch (e) {
    cleanup();
    fail(e.message);
  }
}

// --- child: the checks ------------------------------------------------------
function control(base, method, route, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? "" : JSON.stringify(body);
    const req = https.request(`${base}${route}`, {
      method, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
    }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${route}: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end(data);
  });
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), our own table: the
// check computes the checksums independently of the double.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32c(data) {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

class Mismatch extends Error {}
function expect(condition, message) {
  if (!condition) throw new Mismatch(message);
}
// gRPC status codes as the client reports them (google.rpc.Code).
const CODE = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, UNAVAILABLE: 14, UNAUTHENTICATED: 16 };
async function expectCode(promise, name, what, pattern) {
  try {
    await promise;
  } catch (e) {
    expect(e.code === CODE[name],
      `${what}: the client reported code ${e.code} (${e.message}); expected ${CODE[name]} ${name}`);
    if (pattern) expect(pattern.test(e.message), `${what}: message ${JSON.stringify(e.message)} lacks ${pattern}`);
    return e;
  }
  throw new Mismatch(`${what}: the client reported success; expected ${name}`);
}
// An Int64Value as the client returns it ({value: "123"} with longs as String).
function int64(wrapper, what) {
  expect(wrapper && wrapper.value !== undefined && wrapper.value !== null, `${what} is missing`);
  return Number(wrapper.value);
}

async function client() {
  const { KeyManagementServiceClient } = await import("@google-cloud/kms");
  const require = createRequire(path.join(here, "node_modules", "@google-cloud", "kms", "package.json"));
  const authlib = require("google-auth-library");
  const cfg = JSON.parse(process.env.SDK_CHECK_CONFIG);
  const { url, state } = cfg;
  const port = Number(new URL(url).port);
  const saFile = path.join(state, "service-account.json");
  // What the double served, without the check's own control requests.
  const requests = async () => (await control(url, "GET", "/double/requests")).requests
    .filter((r) => !r.path.startsWith("/double/"));
  // REST transport ("fallback") to the double; every other option is the
  // client's default, so the credentials flow is the one users get.
  const kmsClient = (extra) => new KeyManagementServiceClient({
    fallback: true, apiEndpoint: "127.0.0.1", port, ...extra });
  const kc = kmsClient(); // application default credentials (GOOGLE_APPLICATION_CREDENTIALS)
  // Quick retries: shorter pauses, but the client's own retry codes (its
  // config retries UNAVAILABLE and DEADLINE_EXCEEDED); the pauses are the
  // client's, the check waits on nothing else.
  const fastRetry = { retry: { backoffSettings: {
    initialRetryDelayMillis: 1, retryDelayMultiplier: 1, maxRetryDelayMillis: 1,
    initialRpcTimeoutMillis: 60000, rpcTimeoutMultiplier: 1, maxRpcTimeoutMillis: 60000,
    totalTimeoutMillis: 600000 } } };

  // google-auth-library posts jwt-bearer assertions to Google's fixed token
  // URL (it ignores a key file's token_uri); gaxios' documented request
  // interceptor sends those requests, and only those, to the double's /token.
  // The KMS client also switches a JWT client it is given to self-signed JWTs
  // (useJWTAccessWithScope); viaTokenEndpoint switches it back.
  const viaTokenEndpoint = (jwt) => {
    jwt.useJWTAccessWithScope = false;
    jwt.defaultServicePath = undefined;
    return jwt;
  };
  const toDouble = (jwt) => {
    const tokenUri = JSON.parse(fs.readFileSync(saFile, "utf8")).token_uri;
    jwt.transporter.interceptors.request.add({ resolved: async (opts) => {
      if (String(opts.url) === "https://oauth2.googleapis.com/token") opts.url = new URL(tokenUri);
      return opts;
    } });
    return jwt;
  };
  let passed = 0;
  const check = async (name, body) => {
    try {
      await body();
    } catch (e) {
      throw new Mismatch(`${name}: ${e instanceof Mismatch ? e.message : e.stack || e}`);
    }
    passed += 1;
    console.log(`ok - ${name}`);
  };

  const parent = kc.locationPath(PROJECT, LOCATION);
  const ringName = kc.keyRingPath(PROJECT, LOCATION, "ring1");
  const keyName = kc.cryptoKeyPath(PROJECT, LOCATION, "ring1", "key1");
  const versionName = (n) => kc.cryptoKeyVersionPath(PROJECT, LOCATION, "ring1", "key1", String(n));

  await check("service account key file (application default credentials): the client's default flow (a self-signed JWT) is accepted; no token endpoint call", async () => {
    const [ring] = await kc.createKeyRing({ parent, keyRingId: "ring1", keyRing: {} });
    expect(ring.name === ringName, `createKeyRing returned ${ring.name}`);
    expect(ring.createTime && Number(ring.createTime.seconds) > 0, "createTime was not read as a timestamp");
    const [got] = await kc.getKeyRing({ name: ringName });
    expect(got.name === ringName, `getKeyRing returned ${got.name}`);
    const seen = (await requests()).filter((r) => r.path === "/token");
    expect(seen.length === 0, `the client asked the token endpoint ${seen.length} times`);
    await expectCode(kc.createKeyRing({ parent, keyRingId: "ring1", keyRing: {} }), "ALREADY_EXISTS", "a second key ring of that id");
  });

  let key;
  await check("create an ENCRYPT_DECRYPT key: purpose, template and primary version 1 ENABLED as the client reads them", async () => {
    [key] = await kc.createCryptoKey({ parent: ringName, cryptoKeyId: "key1", cryptoKey: {
      purpose: "ENCRYPT_DECRYPT",
      versionTemplate: { protectionLevel: "SOFTWARE", algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION" } } });
    expect(key.name === keyName, `name ${key.name}`);
    expect(key.purpose === "ENCRYPT_DECRYPT", `purpose ${key.purpose}`);
    expect(key.versionTemplate?.protectionLevel === "SOFTWARE" &&
      key.versionTemplate?.algorithm === "GOOGLE_SYMMETRIC_ENCRYPTION",
    `versionTemplate ${JSON.stringify(key.versionTemplate)}`);
    expect(key.primary?.name === versionName(1), `primary ${key.primary?.name}`);
    expect(key.primary.state === "ENABLED", `primary state ${key.primary.state}`);
    const [got] = await kc.getCryptoKey({ name: keyName });
    expect(got.primary?.name === versionName(1), `getCryptoKey primary ${got.primary?.name}`);
    const [keys] = await kc.listCryptoKeys({ parent: ringName });
    expect(keys.length === 1 && keys[0].name === keyName, `listCryptoKeys gave ${keys.map((k) => k.name)}`);
  });

  const plaintext = crypto.randomBytes(32);
  const aad = Buffer.from("trousseau:gcp:slot-1");
  let v1Ciphertext;
  await check("encrypt with AAD and CRC32C: name is the version, checksums verified, ciphertextCrc32c matches", async () => {
    const [res] = await kc.encrypt({ name: keyName, plaintext, additionalAuthenticatedData: aad,
      plaintextCrc32c: { value: crc32c(plaintext) }, additionalAuthenticatedDataCrc32c: { value: crc32c(aad) } });
    expect(res.name === versionName(1), `encrypt answered for ${res.name}, expected ${versionName(1)}`);
    expect(res.verifiedPlaintextCrc32c === true, "verifiedPlaintextCrc32c is not true");
    expect(res.verifiedAdditionalAuthenticatedDataCrc32c === true, "verifiedAdditionalAuthenticatedDataCrc32c is not true");
    expect(res.protectionLevel === "SOFTWARE", `protectionLevel ${res.protectionLevel}`);
    v1Ciphertext = Buffer.from(res.ciphertext);
    expect(v1Ciphertext.length > plaintext.length, `ciphertext of ${v1Ciphertext.length} bytes`);
    const sent = int64(res.ciphertextCrc32c, "ciphertextCrc32c");
    expect(sent === crc32c(v1Ciphertext),
      `ciphertextCrc32c ${sent} does not match the ciphertext (CRC32C ${crc32c(v1Ciphertext)})`);
    const [bare] = await kc.encrypt({ name: keyName, plaintext });
    expect(bare.verifiedPlaintextCrc32c === false && bare.verifiedAdditionalAuthenticatedDataCrc32c === false,
      "verified* flags set on a request that carried no checksum");
  });

  await check("decrypt with AAD and CRC32C: plaintext, plaintextCrc32c, usedPrimary", async () => {
    const [res] = await kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad,
      ciphertextCrc32c: { value: crc32c(v1Ciphertext) }, additionalAuthenticatedDataCrc32c: { value: crc32c(aad) } });
    expect(Buffer.from(res.plaintext).equals(plaintext), "decrypt did not give back the plaintext");
    const sent = int64(res.plaintextCrc32c, "plaintextCrc32c");
    expect(sent === crc32c(plaintext), `plaintextCrc32c ${sent} does not match the plaintext (CRC32C ${crc32c(plaintext)})`);
    expect(res.usedPrimary === true, "usedPrimary is not true for the primary version");
    expect(res.protectionLevel === "SOFTWARE", `protectionLevel ${res.protectionLevel}`);
  });

  // The client's JSON reader is lenient (it also takes an int64 as a JSON
  // number, an enum as a name or a number), so these wire-level facts are
  // checked on the raw response, against the proto3 JSON mapping the REST
  // reference states: Int64Value fields are strings ("string (Int64Value
  // format)"), enums are names unless `$alt=json;enum-encoding=int` asks for
  // numbers. The bearer token is the one the client itself would send.
  await check("wire: CRC32C fields are JSON strings; enums are names, or numbers with $alt=json;enum-encoding=int", async () => {
    const auth = await kc.auth.getRequestHeaders();
    const raw = async (route, body) => {
      const data = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = https.request(`${url}${route}`, { method: "POST", headers: {
          authorization: auth.get ? auth.get("authorization") : auth.Authorization || auth.authorization,
          "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(text))
            : reject(new Error(`${route}: ${res.statusCode} ${text}`))));
        });
        req.on("error", reject);
        req.end(data);
      });
    };
    const b64 = plaintext.toString("base64");
    const enc = await raw(`/v1/${keyName}:encrypt`, { plaintext: b64, plaintextCrc32c: String(crc32c(plaintext)) });
    expect(typeof enc.ciphertextCrc32c === "string" && /^[0-9]+$/.test(enc.ciphertextCrc32c),
      `ciphertextCrc32c is ${JSON.stringify(enc.ciphertextCrc32c)} on the wire, not an int64 as a JSON string`);
    expect(enc.protectionLevel === "SOFTWARE", `protectionLevel is ${JSON.stringify(enc.protectionLevel)} without $alt`);
    const dec = await raw(`/v1/${keyName}:decrypt?$alt=json%3Benum-encoding=int`, { ciphertext: enc.ciphertext });
    expect(typeof dec.plaintextCrc32c === "string" && /^[0-9]+$/.test(dec.plaintextCrc32c),
      `plaintextCrc32c is ${JSON.stringify(dec.plaintextCrc32c)} on the wire, not an int64 as a JSON string`);
    expect(dec.protectionLevel === 1, `protectionLevel is ${JSON.stringify(dec.protectionLevel)} with enum-encoding=int`);
  });

  await check("a request checksum that does not match is INVALID_ARGUMENT", async () => {
    await expectCode(kc.encrypt({ name: keyName, plaintext, plaintextCrc32c: { value: crc32c(plaintext) ^ 1 } }),
      "INVALID_ARGUMENT", "encrypt with a wrong plaintextCrc32c");
    await expectCode(kc.encrypt({ name: keyName, plaintext, additionalAuthenticatedData: aad,
      additionalAuthenticatedDataCrc32c: { value: crc32c(aad) ^ 1 } }), "INVALID_ARGUMENT", "encrypt with a wrong AAD checksum");
    await expectCode(kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad,
      ciphertextCrc32c: { value: crc32c(v1Ciphertext) ^ 1 } }), "INVALID_ARGUMENT", "decrypt with a wrong ciphertextCrc32c");
  });

  await check("decrypt with other AAD, a flipped byte or another key fails INVALID_ARGUMENT (Decryption failed)", async () => {
    await expectCode(kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: Buffer.from("other") }),
      "INVALID_ARGUMENT", "decrypt with other AAD", /Decryption failed/);
    const flipped = Buffer.from(v1Ciphertext);
    flipped[flipped.length - 1] ^= 1;
    await expectCode(kc.decrypt({ name: keyName, ciphertext: flipped, additionalAuthenticatedData: aad }),
      "INVALID_ARGUMENT", "decrypt of a tampered ciphertext", /Decryption failed/);
    const [other] = await kc.createCryptoKey({ parent: ringName, cryptoKeyId: "key2",
      cryptoKey: { purpose: "ENCRYPT_DECRYPT", versionTemplate: { protectionLevel: "HSM" } } });
    expect(other.primary?.protectionLevel === "HSM", `an HSM key's version is ${other.primary?.protectionLevel}`);
    await expectCode(kc.decrypt({ name: other.name, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad }),
      "INVALID_ARGUMENT", "decrypt under another key", /Decryption failed/);
  });

  await check("size limits: 64 KiB plaintext and AAD on SOFTWARE, 8 KiB together on HSM", async () => {
    const [ok] = await kc.encrypt({ name: keyName, plaintext: Buffer.alloc(65536, 1) });
    expect(ok.name === versionName(1), "64 KiB of plaintext refused");
    await expectCode(kc.encrypt({ name: keyName, plaintext: Buffer.alloc(65537, 1) }), "INVALID_ARGUMENT", "64 KiB + 1 of plaintext");
    await expectCode(kc.encrypt({ name: keyName, plaintext, additionalAuthenticatedData: Buffer.alloc(65537, 1) }),
      "INVALID_ARGUMENT", "64 KiB + 1 of AAD");
    const hsmKey = kc.cryptoKeyPath(PROJECT, LOCATION, "ring1", "key2");
    await expectCode(kc.encrypt({ name: hsmKey, plaintext: Buffer.alloc(4097, 1), additionalAuthenticatedData: Buffer.alloc(4096, 1) }),
      "INVALID_ARGUMENT", "an HSM encrypt of 8 KiB + 1 in all");
  });

  let v2Ciphertext;
  await check("a second version, then updatePrimaryVersion: new encrypts use it, the old ciphertext still decrypts (usedPrimary false)", async () => {
    const [v2] = await kc.createCryptoKeyVersion({ parent: keyName, cryptoKeyVersion: {} });
    expect(v2.name === versionName(2) && v2.state === "ENABLED", `new version ${v2.name} ${v2.state}`);
    const [before] = await kc.getCryptoKey({ name: keyName });
    expect(before.primary?.name === versionName(1), "creating a version changed the primary");
    const [after] = await kc.updateCryptoKeyPrimaryVersion({ name: keyName, cryptoKeyVersionId: "2" });
    expect(after.primary?.name === versionName(2), `primary after update ${after.primary?.name}`);
    const [enc] = await kc.encrypt({ name: keyName, plaintext, additionalAuthenticatedData: aad });
    expect(enc.name === versionName(2), `encrypt used ${enc.name}`);
    v2Ciphertext = Buffer.from(enc.ciphertext);
    const [old] = await kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad });
    expect(Buffer.from(old.plaintext).equals(plaintext), "the old version's ciphertext no longer decrypts");
    expect(old.usedPrimary === false, "usedPrimary is true for a non-primary version");
    const [cur] = await kc.decrypt({ name: keyName, ciphertext: v2Ciphertext, additionalAuthenticatedData: aad });
    expect(cur.usedPrimary === true, "usedPrimary is false for the primary version");
    const [pinned] = await kc.encrypt({ name: versionName(1), plaintext });
    expect(pinned.name === versionName(1), `encrypt on version 1's path used ${pinned.name}`);
  });

  await check("listCryptoKeyVersions pages through every version", async () => {
    const [first, next, raw] = await kc.listCryptoKeyVersions({ parent: keyName, pageSize: 1 }, { autoPaginate: false });
    expect(first.length === 1 && first[0].name === versionName(1), `first page ${first.map((v) => v.name)}`);
    expect(next?.pageToken, "no nextPageToken after the first page");
    expect(raw.totalSize === 2, `totalSize ${raw.totalSize}`);
    const [second, after] = await kc.listCryptoKeyVersions(next, { autoPaginate: false });
    expect(second.length === 1 && second[0].name === versionName(2), `second page ${second.map((v) => v.name)}`);
    expect(!after, "a nextPageToken after the last page");
    const [all] = await kc.listCryptoKeyVersions({ parent: keyName });
    expect(all.map((v) => v.name).join() === [versionName(1), versionName(2)].join(), `listed ${all.map((v) => v.name)}`);
  });

  await check("a DISABLED version refuses decrypt and encrypt (FAILED_PRECONDITION); enabled again, it decrypts", async () => {
    const [v1] = await kc.updateCryptoKeyVersion({ cryptoKeyVersion: { name: versionName(1), state: "DISABLED" },
      updateMask: { paths: ["state"] } });
    expect(v1.state === "DISABLED", `state after the update ${v1.state}`);
    await expectCode(kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad }),
      "FAILED_PRECONDITION", "decrypt under a disabled version");
    await expectCode(kc.encrypt({ name: versionName(1), plaintext }), "FAILED_PRECONDITION", "encrypt on a disabled version");
    await expectCode(kc.updateCryptoKeyPrimaryVersion({ name: keyName, cryptoKeyVersionId: "1" }),
      "FAILED_PRECONDITION", "a disabled version made primary");
    await kc.updateCryptoKeyVersion({ cryptoKeyVersion: { name: versionName(1), state: "ENABLED" }, updateMask: { paths: ["state"] } });
    const [back] = await kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad });
    expect(Buffer.from(back.plaintext).equals(plaintext), "re-enabled version does not decrypt");
  });

  await check("unknown key ring, key and version are NOT_FOUND", async () => {
    await expectCode(kc.getCryptoKey({ name: kc.cryptoKeyPath(PROJECT, LOCATION, "ring1", "nope") }), "NOT_FOUND", "an unknown key");
    await expectCode(kc.getKeyRing({ name: kc.keyRingPath(PROJECT, LOCATION, "nope") }), "NOT_FOUND", "an unknown key ring");
    await expectCode(kc.getCryptoKeyVersion({ name: versionName(9) }), "NOT_FOUND", "an unknown version");
    await expectCode(kc.encrypt({ name: kc.cryptoKeyPath(PROJECT, LOCATION, "ring1", "nope"), plaintext }), "NOT_FOUND", "encrypt under an unknown key");
  });

  await check("a forged bearer token is UNAUTHENTICATED", async () => {
    const forged = new authlib.OAuth2Client();
    forged.setCredentials({ access_token: "ya29.forged", expiry_date: Date.now() + 3600e3 });
    await expectCode(kmsClient({ authClient: forged }).getCryptoKey({ name: keyName }), "UNAUTHENTICATED", "a forged token");
  });

  await check("an injected 503 is retried by the client (encrypt, getCryptoKey); 429 is not (RESOURCE_EXHAUSTED)", async () => {
    for (const [route, call] of [[`/v1/${keyName}:encrypt`, () => kc.encrypt({ name: keyName, plaintext }, fastRetry)],
      [`/v1/${keyName}`, () => kc.getCryptoKey({ name: keyName }, fastRetry)]]) {
      const before = (await requests()).length;
      await control(url, "POST", "/double/fail", { path: route, count: 2, status: 503 });
      await call();
      const seen = (await requests()).slice(before).filter((r) => r.path === route).map((r) => r.status);
      // The double logs each request before it answers it, so the slice
      // holds exactly this call's tries: the failures, then the answer.
      expect(seen.join(",") === "503,503,200", `the double saw ${seen} for ${route}`);
    }
    const before = (await requests()).length;
    await control(url, "POST", "/double/fail", { path: `/v1/${keyName}:encrypt`, count: 1, status: 429 });
    await expectCode(kc.encrypt({ name: keyName, plaintext }, fastRetry), "RESOURCE_EXHAUSTED", "an injected 429");
    const seen = (await requests()).slice(before).map((r) => r.status);
    expect(seen.join(",") === "429", `the double saw ${seen} for a 429`);
  });

  await check("the double's integrity lies reach the client: it sees a ciphertextCrc32c and a plaintextCrc32c that do not match", async () => {
    await control(url, "POST", "/double/corrupt", { what: "ciphertextCrc32c", count: 1 });
    const [enc] = await kc.encrypt({ name: keyName, plaintext });
    expect(int64(enc.ciphertextCrc32c, "ciphertextCrc32c") !== crc32c(Buffer.from(enc.ciphertext)), "the lie did not reach the client");
    await control(url, "POST", "/double/corrupt", { what: "plaintext", count: 1 });
    const [dec] = await kc.decrypt({ name: keyName, ciphertext: enc.ciphertext });
    expect(int64(dec.plaintextCrc32c, "plaintextCrc32c") !== crc32c(Buffer.from(dec.plaintext)), "the flipped plaintext matched its checksum");
    await control(url, "POST", "/double/corrupt", { what: "verifiedPlaintextCrc32c", count: 1 });
    const [unverified] = await kc.encrypt({ name: keyName, plaintext, plaintextCrc32c: { value: crc32c(plaintext) } });
    expect(unverified.verifiedPlaintextCrc32c === false, "verifiedPlaintextCrc32c still true");
  });

  await check("the token endpoint: google-auth-library's JWT client (jwt-bearer assertion) gets a token KMS accepts", async () => {
    const sa = JSON.parse(fs.readFileSync(saFile, "utf8"));
    const jwt = toDouble(new authlib.JWT({ email: sa.client_email, key: sa.private_key, keyId: sa.private_key_id, scopes: [CLOUDKMS] }));
    const before = (await requests()).length;
    const { token, res } = await jwt.getAccessToken();
    expect(typeof token === "string" && token.length > 0, "no access token");
    const left = jwt.credentials.expiry_date - Date.now();
    expect(left > 3000e3 && left <= 3601e3, `the token expires in ${left} ms, expected about 3600 s`);
    const seen = (await requests()).slice(before).filter((r) => r.path === "/token").map((r) => r.status);
    expect(seen.join(",") === "200", `the double's /token saw ${seen}`);
    const viaToken = kmsClient({ authClient: jwt });
    viaTokenEndpoint(jwt);
    const [got] = await viaToken.getCryptoKey({ name: keyName });
    expect(got.name === keyName, `getCryptoKey with the token returned ${got.name}`);
    const wrong = toDouble(new authlib.JWT({ email: sa.client_email, key: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ type: "pkcs8", format: "pem" }), scopes: [CLOUDKMS] }));
    let refused = "";
    try {
      await wrong.getAccessToken();
    } catch (e) {
      refused = String(e.message);
    }
    expect(/invalid_grant/.test(refused), `an assertion signed by another key: ${refused || "a token was issued"}`);
  });

  await check("tokens expire on the double's clock: a held token is UNAUTHENTICATED past expiry, a new one works", async () => {
    const sa = JSON.parse(fs.readFileSync(saFile, "utf8"));
    const held = () => {
      const jwt = toDouble(new authlib.JWT({ email: sa.client_email, key: sa.private_key, scopes: [CLOUD_PLATFORM] }));
      const client = kmsClient({ authClient: jwt });
      viaTokenEndpoint(jwt);
      return client;
    };
    const old = held();
    await old.getCryptoKey({ name: keyName });
    await control(url, "POST", "/double/clock", { advance_seconds: 7200 });
    // The library still believes its token valid (the real clock has not
    // moved): only the double's 401 UNAUTHENTICATED says it is not. (The
    // library's JWT client does not recover by itself: its token cache
    // follows the real clock.)
    await expectCode(old.getCryptoKey({ name: keyName }), "UNAUTHENTICATED", "a token past its expiry");
    const before = (await requests()).length;
    const [got] = await held().getCryptoKey({ name: keyName });
    expect(got.name === keyName, `getCryptoKey returned ${got.name}`);
    const seen = (await requests()).slice(before).map((r) => `${r.path === "/token" ? "token" : "kms"} ${r.status}`);
    expect(seen.join(",") === "token 200,kms 200", `the double saw ${seen}`);
  });

  await check("workload identity federation: an external_account file (STS token exchange) gets a token KMS accepts", async () => {
    const file = path.join(state, "external-account.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    const ext = new authlib.IdentityPoolClient(json);
    expect(ext.constructor.name === "IdentityPoolClient", `the library built a ${ext.constructor.name}`);
    const before = (await requests()).length;
    const [got] = await kmsClient({ authClient: ext }).getCryptoKey({ name: keyName });
    expect(got.name === keyName, `getCryptoKey returned ${got.name}`);
    const seen = (await requests()).slice(before).filter((r) => r.path === "/v1/token").map((r) => r.status);
    expect(seen.join(",") === "200", `the double's STS endpoint saw ${seen}`);
    // A subject token for another audience is refused by STS.
    await control(url, "POST", "/double/subject-token", { audience: "https://example.invalid/other" });
    const other = new authlib.IdentityPoolClient(json);
    let refused = "";
    try {
      await other.getAccessToken();
    } catch (e) {
      refused = String(e.message);
    }
    expect(/invalid_grant/.test(refused), `a subject token for another audience: ${refused || "a token was issued"}`);
    await control(url, "POST", "/double/subject-token", {});
  });

  await check("workload identity federation with service account impersonation (iamcredentials generateAccessToken)", async () => {
    const sa = JSON.parse(fs.readFileSync(saFile, "utf8"));
    const json = JSON.parse(fs.readFileSync(path.join(state, "external-account.json"), "utf8"));
    json.service_account_impersonation_url =
      `${url}/v1/projects/-/serviceAccounts/${sa.client_email}:generateAccessToken`;
    const ext = new authlib.IdentityPoolClient(json);
    const before = (await requests()).length;
    const [got] = await kmsClient({ authClient: ext }).getCryptoKey({ name: keyName });
    expect(got.name === keyName, `getCryptoKey returned ${got.name}`);
    const paths = (await requests()).slice(before).map((r) => `${r.path} ${r.status}`);
    expect(paths.some((p) => /:generateAccessToken 200$/.test(p)), `no impersonation call: ${paths}`);
  });

  await check("the GCE metadata server (GCE_METADATA_HOST): the Compute client's token works", async () => {
    const compute = new authlib.Compute();
    const before = (await requests()).length;
    const [got] = await kmsClient({ authClient: compute }).getCryptoKey({ name: keyName });
    expect(got.name === keyName, `getCryptoKey returned ${got.name}`);
    const seen = (await requests()).slice(before)
      .filter((r) => r.path === "/computeMetadata/v1/instance/service-accounts/default/token").map((r) => r.status);
    expect(seen.join(",") === "200", `the metadata endpoint saw ${seen}`);
  });

  await check("destroy: DESTROY_SCHEDULED with a destroyTime, DESTROYED past it on the double's clock; decrypt refuses", async () => {
    const [v] = await kc.destroyCryptoKeyVersion({ name: versionName(1) });
    expect(v.state === "DESTROY_SCHEDULED", `state after destroy ${v.state}`);
    const due = Number(v.destroyTime?.seconds);
    expect(due > Date.now() / 1000 + 29 * 86400, `destroyTime ${JSON.stringify(v.destroyTime)}`);
    await expectCode(kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad }),
      "FAILED_PRECONDITION", "decrypt under a version scheduled for destruction");
    const [restored] = await kc.restoreCryptoKeyVersion({ name: versionName(1) });
    expect(restored.state === "DISABLED", `state after restore ${restored.state}`);
    await kc.destroyCryptoKeyVersion({ name: versionName(1) });
    await control(url, "POST", "/double/clock", { advance_seconds: 31 * 86400 });
    // The service account key file's self-signed JWT carries the real clock.
    const [gone] = await kc.getCryptoKeyVersion({ name: versionName(1) });
    expect(gone.state === "DESTROYED" && gone.destroyEventTime, `state ${gone.state}, destroyEventTime ${JSON.stringify(gone.destroyEventTime)}`);
    await expectCode(kc.decrypt({ name: keyName, ciphertext: v1Ciphertext, additionalAuthenticatedData: aad }),
      "FAILED_PRECONDITION", "decrypt under a destroyed version");
    const [cur] = await kc.decrypt({ name: keyName, ciphertext: v2Ciphertext, additionalAuthenticatedData: aad });
    expect(Buffer.from(cur.plaintext).equals(plaintext), "the primary no longer decrypts");
  });
  console.log(`sdk_check: all ${passed} checks passed against the client`);
}

const argv = process.argv.slice(2);
if (argv[0] === "--client") {
  client().catch((e) => fail(`MISMATCH: ${e instanceof Mismatch ? e.message : e.stack || e}`));
} else if (argv.length === 0) {
  parent(null);
} else if (argv[0] === "--self-test" && argv.length <= 2 && (argv.length === 1 || DEVIATIONS[argv[1]])) {
  parent(argv[1] || "wrong-crc32c");
} else {
  console.error("usage: node sdk_check.mjs [--self-test [wrong-crc32c|crc32c-as-number]]");
  process.exit(2);
}
