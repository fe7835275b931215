#!/usr/bin/env node
// Checks the Azure Key Vault test double (keyvault_double.py) against
// Microsoft's own clients, @azure/keyvault-keys and @azure/identity: every
// assertion is on what the SDK returns, so a response the SDK would read
// differently from Azure's fails here.
//
//   node sdk_check.mjs              exit 0 when the double passes every check
//   node sdk_check.mjs --self-test  the double runs with a deliberate deviation;
//                                   the check must fail (exit 1, naming it)
//
// It makes a test CA and certificates (../test_pki.py), starts two doubles
// (a vault and a Managed HSM) and waits on their ready files, then runs the
// checks in a child Node process: NODE_EXTRA_CA_CERTS, which makes Node
// trust the test CA, is read only at start-up.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const TENANT = "00000000-0000-0000-0000-000000000001";
const CLIENT_ID = "00000000-0000-0000-0000-0000000000c1";
const MI_CLIENT_ID = "00000000-0000-0000-0000-0000000000a1";
const SECRET = "double-client-secret";
const ISSUER = "https://oidc.trousseau.test/cluster";
const SUBJECT = "system:serviceaccount:kube-system:trousseau";

function fail(message) {
  console.error(`sdk_check: ${message}`);
  process.exit(1);
}

// --- parent: PKI, doubles, child ------------------------------------------
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
    path.join(here, "keyvault_double.py"), "--port", "0", "--ready-file", ready,
    "--tls-cert", path.join(dir, "server.pem"), "--tls-key", path.join(dir, "server-key.pem"),
    "--tenant", TENANT, "--client-id", CLIENT_ID, "--exit-on-stdin-eof", ...extraArgs,
  ], { stdio: ["pipe", "inherit", "inherit"] }); // the pipe closes if this process dies
  return new Promise((resolve, reject) => {
    let done = false;
    const watcher = fs.watch(dir, () => check());
    const check = () => {
      if (done || !fs.existsSync(ready)) return;
      done = true;
      watcher.close();
      resolve({ child, url: fs.readFileSync(ready, "utf8").trim() });
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

async function parent(selfTest) {
  const require = createRequire(import.meta.url);
  for (const pkg of ["@azure/keyvault-keys", "@azure/identity"]) {
    try {
      require.resolve(`${pkg}/package.json`);
    } catch {
      fail(`cannot load the npm package '${pkg}': ${path.join(here, "node_modules")} is missing ` +
        "or incomplete. Run scripts/install-deps --test (it runs `npm ci` in tests/doubles/azure).");
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azure-double-"));
  const children = [];
  const cleanup = () => {
    for (const c of children) c.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pki = await run("python3", [path.join(here, "..", "test_pki.py"), dir,
      "--federated-issuer", ISSUER, "--federated-subject", SUBJECT]);
    if (pki !== 0) fail("test_pki.py failed (is python3-cryptography installed? run scripts/install-deps --test)");
    const identity = ["--client-secret", SECRET, "--client-cert", path.join(dir, "client-cert.pem"),
      "--federated-issuer", ISSUER, "--federated-subject", SUBJECT,
      "--federated-key", path.join(dir, "federated-issuer.pem"),
      "--managed-identity-client-id", MI_CLIENT_ID];
    const vault = await startDouble(dir, "vault",
      [...identity, ...(selfTest ? ["--deviate", "kid-without-version"] : [])]);
    children.push(vault.child);
    const hsm = await startDouble(dir, "hsm", [...identity, "--flavour", "managedhsm"]);
    children.push(hsm.child);
    const sovereign = await startDouble(dir, "sovereign",
      [...identity, "--resource", "https://vault.usgovcloudapi.net"]);
    children.push(sovereign.child);

    const config = { vault: vault.url, hsm: hsm.url, sovereign: sovereign.url, dir };
    const status = await new Promise((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--client"], {
        stdio: ["ignore", "inherit", "inherit"],
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem"),
          SDK_CHECK_CONFIG: JSON.stringify(config),
          // ManagedIdentityCredential's IMDS address (MSAL reads it): the double.
          AZURE_POD_IDENTITY_AUTHORITY_HOST: vault.url,
        },
      });
      child.on("exit", (code, signal) => resolve(code ?? 128));
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

class Mismatch extends Error {}
function expect(condition, message) {
  if (!condition) throw new Mismatch(message);
}
async function expectRestError(promise, status, code, what) {
  try {
    await promise;
  } catch (e) {
    expect(e.statusCode === status && e.code === code,
      `${what}: the SDK reported status ${e.statusCode}, code ${e.code} (${e.message}); expected ${status} ${code}`);
    return e;
  }
  throw new Mismatch(`${what}: the SDK reported success; expected ${status} ${code}`);
}

async function client() {
  const { KeyClient, CryptographyClient } = await import("@azure/keyvault-keys");
  const identity = await import("@azure/identity");
  const cfg = JSON.parse(process.env.SDK_CHECK_CONFIG);
  const { vault, hsm, sovereign, dir } = cfg;
  const authority = { authorityHost: vault, disableInstanceDiscovery: true };
  // The double is 127.0.0.1, not *.vault.azure.net: the SDK would refuse the
  // challenge's resource otherwise. Fast retries keep 500s quick.
  const clientOptions = { disableChallengeResourceVerification: true,
    retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 4 } };
  const secretCred = new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority);
  const keys = new KeyClient(vault, secretCred, clientOptions);
  const crypt = (key, cred = secretCred) => new CryptographyClient(key, cred, clientOptions);
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
  const versionOf = (id) => {
    const m = /\/keys\/([^/]+)\/([0-9a-f]{32})$/.exec(id || "");
    expect(m, `key id ${id} has no version (expected .../keys/{name}/{32 hex digits})`);
    return m[2];
  };

  let v1Key, v1Wrapped, plain = crypto.randomBytes(32);
  await check("create an RSA key: the SDK reads a versioned kid and the public key", async () => {
    v1Key = await keys.createRsaKey("k1", { keySize: 2048 });
    expect(v1Key.key.kty === "RSA", `kty ${v1Key.key.kty}`);
    expect(versionOf(v1Key.id) === v1Key.properties.version, "properties.version differs from the kid's");
    expect(v1Key.key.n.length === 256 && Buffer.from(v1Key.key.e).toString("hex") === "010001",
      `n is ${v1Key.key.n.length} bytes, e ${Buffer.from(v1Key.key.e).toString("hex")}`);
    expect(v1Key.properties.enabled === true, "a new key is not enabled");
    expect(v1Key.properties.createdOn instanceof Date, "attributes.created was not read as a date");
  });
  await check("get the key, versionless and by version", async () => {
    const current = await keys.getKey("k1");
    expect(current.id === v1Key.id, `getKey returned ${current.id}, created ${v1Key.id}`);
    const byVersion = await keys.getKey("k1", { version: v1Key.properties.version });
    expect(Buffer.from(byVersion.key.n).equals(Buffer.from(v1Key.key.n)), "the version's n differs");
  });
  await check("wrapKey/unwrapKey RSA-OAEP-256 round trip", async () => {
    const wrapped = await crypt(v1Key).wrapKey("RSA-OAEP-256", plain);
    expect(wrapped.keyID === v1Key.id, `wrap answered for ${wrapped.keyID}`);
    expect(wrapped.result.length === 256, `wrapped ${wrapped.result.length} bytes`);
    const unwrapped = await crypt(v1Key).unwrapKey("RSA-OAEP-256", wrapped.result);
    expect(Buffer.from(unwrapped.result).equals(plain), "unwrap did not give back the key");
    v1Wrapped = wrapped.result;
  });
  await check("the double unwraps what Node's own RSA-OAEP-256 wrapped with the SDK's public key", async () => {
    const jwk = { kty: "RSA", n: Buffer.from(v1Key.key.n).toString("base64url"),
      e: Buffer.from(v1Key.key.e).toString("base64url") };
    const pub = crypto.createPublicKey({ key: jwk, format: "jwk" });
    const other = crypto.randomBytes(32);
    const wrapped = crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, other);
    const unwrapped = await crypt(v1Key.id).unwrapKey("RSA-OAEP-256", wrapped);
    expect(Buffer.from(unwrapped.result).equals(other), "unwrap of an independent OAEP-256 wrap differs");
  });
  let v2Key, v3Key;
  await check("a new version: create again and rotate; get returns the newest, the old still unwraps", async () => {
    v2Key = await keys.createRsaKey("k1", { keySize: 2048 });
    expect(v2Key.properties.version !== v1Key.properties.version, "create again kept the version");
    v3Key = await keys.rotateKey("k1");
    expect(versionOf(v3Key.id) !== v2Key.properties.version, "rotate kept the version");
    const current = await keys.getKey("k1");
    expect(current.id === v3Key.id, `getKey returned ${current.id}, not the newest ${v3Key.id}`);
    const versions = [];
    for await (const p of keys.listPropertiesOfKeyVersions("k1")) versions.push(p.version);
    for (const k of [v1Key, v2Key, v3Key]) {
      expect(versions.includes(k.properties.version), `version ${k.properties.version} not listed (${versions})`);
    }
    expect(versions.length === 3, `${versions.length} versions listed, expected 3`);
    const names = [];
    for await (const p of keys.listPropertiesOfKeys()) names.push(p.name);
    expect(names.includes("k1"), `listPropertiesOfKeys gave ${names}`);
    const old = await crypt(v1Key.id).unwrapKey("RSA-OAEP-256", v1Wrapped);
    expect(Buffer.from(old.result).equals(plain), "the old version no longer unwraps");
  });
  await check("a disabled key version refuses unwrap with 403 Forbidden (KeyDisabled)", async () => {
    const props = await keys.updateKeyProperties("k1", v2Key.properties.version, { enabled: false });
    expect(props.properties.enabled === false, "updateKeyProperties did not read enabled: false back");
    const wrapped = await crypt(v3Key).wrapKey("RSA-OAEP-256", plain);
    const e = await expectRestError(crypt(v2Key.id).unwrapKey("RSA-OAEP-256", wrapped.result), 403, "Forbidden", "unwrap on a disabled key");
    expect(/disabled/.test(e.message), `message: ${e.message}`);
  });
  await check("errors: an unknown key is 404 KeyNotFound, a wrong algorithm 400 BadParameter, an unknown api-version 400", async () => {
    await expectRestError(keys.getKey("no-such-key"), 404, "KeyNotFound", "get of an unknown key");
    await expectRestError(keys.getKey("k1", { version: "0".repeat(32) }), 404, "KeyNotFound", "get of an unknown version");
    await expectRestError(crypt(v3Key.id).wrapKey("A256KW", plain), 400, "BadParameter", "A256KW on an RSA key");
    await expectRestError(keys.createOctKey("o1", { keySize: 256 }), 400, "BadParameter", "an oct key in a vault");
    const old = new KeyClient(vault, secretCred, { ...clientOptions, serviceVersion: "1999-01-01" });
    await expectRestError(old.getKey("k1"), 400, "BadParameter", "an unknown api-version");
  });
  await check("a forged token is refused with 401 Unauthorized", async () => {
    const forged = { getToken: async () => ({ token: "forged", expiresOnTimestamp: Date.now() + 3600e3 }) };
    await expectRestError(new KeyClient(vault, forged, clientOptions).getKey("k1"), 401, "Unauthorized", "a forged token");
  });
  await check("tokens expire on the double's clock; a new credential gets a fresh one", async () => {
    const t = await secretCred.getToken("https://vault.azure.net/.default");
    const left = t.expiresOnTimestamp - Date.now();
    expect(left > 3000e3 && left <= 3601e3, `the token expires in ${left} ms, expected about 3600 s`);
    await control(vault, "POST", "/double/clock", { advance_seconds: 7200 });
    await expectRestError(keys.getKey("k1"), 401, "Unauthorized", "a token past its expiry");
    const fresh = new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority);
    expect((await new KeyClient(vault, fresh, clientOptions).getKey("k1")).id === v3Key.id, "fresh token refused");
  });
  const fresh = () => new KeyClient(vault, new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET, authority), clientOptions);
  for (const status of [429, 503, 500]) {
    await check(`an injected ${status} is retried by the SDK`, async () => {
      const kc = fresh();
      await kc.getKey("k1"); // the challenge and the token first
      const before = (await control(vault, "GET", "/double/requests")).requests.length;
      await control(vault, "POST", "/double/fail", { path: "/keys/k1", count: 2, status, retry_after: 0 });
      const key = await kc.getKey("k1");
      expect(key.id === v3Key.id, `getKey after ${status}s returned ${key.id}`);
      const seen = (await control(vault, "GET", "/double/requests")).requests.slice(before)
        .filter((r) => r.path.startsWith("/keys/k1")).map((r) => r.status);
      // The double logs each request before it answers it, so the slice
      // holds exactly this getKey's tries: the failures, then the answer.
      expect(seen.join(",") === `${status},${status},200`, `the double saw ${seen}`);
    });
  }
  await check("ClientCertificateCredential: a certificate assertion gets a token", async () => {
    const cred = new identity.ClientCertificateCredential(TENANT, CLIENT_ID, path.join(dir, "client.pem"), authority);
    expect((await new KeyClient(vault, cred, clientOptions).getKey("k1")).id === v3Key.id, "getKey differs");
  });
  await check("ClientCertificateCredential with an unregistered certificate is refused", async () => {
    const pem = fs.readFileSync(path.join(dir, "server.pem"), "utf8") + fs.readFileSync(path.join(dir, "server-key.pem"), "utf8");
    const cred = new identity.ClientCertificateCredential(TENANT, CLIENT_ID, { certificate: pem }, authority);
    try {
      await cred.getToken("https://vault.azure.net/.default");
    } catch (e) {
      expect(/invalid_client|AADSTS700027/.test(e.message), `refused for another reason: ${e.message}`);
      return;
    }
    throw new Mismatch("a token was issued for an unregistered certificate");
  });
  await check("ClientSecretCredential with a wrong secret is refused (AADSTS7000215)", async () => {
    const cred = new identity.ClientSecretCredential(TENANT, CLIENT_ID, "wrong", authority);
    try {
      await cred.getToken("https://vault.azure.net/.default");
    } catch (e) {
      expect(/AADSTS7000215/.test(e.message), `refused for another reason: ${e.message}`);
      return;
    }
    throw new Mismatch("a token was issued for a wrong secret");
  });
  await check("WorkloadIdentityCredential: a federated token file gets a token", async () => {
    const cred = new identity.WorkloadIdentityCredential({ tenantId: TENANT, clientId: CLIENT_ID,
      tokenFilePath: path.join(dir, "federated-token"), ...authority });
    expect((await new KeyClient(vault, cred, clientOptions).getKey("k1")).id === v3Key.id, "getKey differs");
  });
  await check("ManagedIdentityCredential (IMDS at AZURE_POD_IDENTITY_AUTHORITY_HOST), system- and user-assigned", async () => {
    const system = new identity.ManagedIdentityCredential();
    expect((await new KeyClient(vault, system, clientOptions).getKey("k1")).id === v3Key.id, "system-assigned");
    const user = new identity.ManagedIdentityCredential({ clientId: MI_CLIENT_ID });
    const t = await user.getToken("https://vault.azure.net/.default");
    expect(typeof t.token === "string" && t.expiresOnTimestamp > Date.now(), "user-assigned token");
    const other = new identity.ManagedIdentityCredential({ clientId: "00000000-0000-0000-0000-00000000dead" });
    let refused = false;
    try {
      await other.getToken("https://vault.azure.net/.default");
    } catch {
      refused = true;
    }
    expect(refused, "a token was issued for an unknown user-assigned identity");
  });
  // Each double is its own cloud: its token endpoint issues tokens for its own
  // resource (https://managedhsm.azure.net here) only.
  const hsmCred = new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET,
    { authorityHost: hsm, disableInstanceDiscovery: true });
  const hsmKeys = new KeyClient(hsm, hsmCred, clientOptions);
  let octKey;
  await check("Managed HSM: an oct-HSM key, A256KW wrap/unwrap", async () => {
    octKey = await hsmKeys.createOctKey("h1", { hsm: true, keySize: 256 });
    expect(octKey.key.kty === "oct-HSM", `kty ${octKey.key.kty}`);
    expect(octKey.key.k === undefined, "the symmetric key material was returned");
    versionOf(octKey.id);
    const wrapped = await crypt(octKey, hsmCred).wrapKey("A256KW", plain);
    expect(wrapped.result.length === 40, `A256KW of 32 bytes gave ${wrapped.result.length}`);
    const back = await crypt(octKey.id, hsmCred).unwrapKey("A256KW", wrapped.result);
    expect(Buffer.from(back.result).equals(plain), "A256KW round trip differs");
    const tampered = Buffer.from(wrapped.result);
    tampered[0] ^= 1;
    await expectRestError(crypt(octKey.id, hsmCred).unwrapKey("A256KW", tampered), 400, "BadParameter", "a tampered A256KW");
  });
  await check("Managed HSM: A256GCM encrypt/decrypt, the service's IV and tag", async () => {
    const aad = Buffer.from("trousseau");
    const sealed = await crypt(octKey.id, hsmCred).encrypt({ algorithm: "A256GCM", plaintext: plain, additionalAuthenticatedData: aad });
    expect(sealed.iv?.length === 12 && sealed.authenticationTag?.length === 16,
      `iv ${sealed.iv?.length} bytes, tag ${sealed.authenticationTag?.length}`);
    const opened = await crypt(octKey.id, hsmCred).decrypt({ algorithm: "A256GCM", ciphertext: sealed.result,
      iv: sealed.iv, authenticationTag: sealed.authenticationTag, additionalAuthenticatedData: aad });
    expect(Buffer.from(opened.result).equals(plain), "A256GCM round trip differs");
    await expectRestError(crypt(octKey.id, hsmCred).decrypt({ algorithm: "A256GCM", ciphertext: sealed.result,
      iv: sealed.iv, authenticationTag: sealed.authenticationTag, additionalAuthenticatedData: Buffer.from("other") }),
    400, "BadParameter", "A256GCM with other AAD");
  });
  await check("Managed HSM: a software RSA key is refused, RSA-HSM accepted", async () => {
    await expectRestError(hsmKeys.createRsaKey("r0"), 400, "BadParameter", "kty RSA in a Managed HSM");
    const k = await hsmKeys.createRsaKey("r1", { hsm: true });
    expect(k.key.kty === "RSA-HSM", `kty ${k.key.kty}`);
  });
  await check("a sovereign cloud: the SDK asks for the scope the challenge names, and gets no other", async () => {
    const cred = new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET,
      { authorityHost: sovereign, disableInstanceDiscovery: true });
    const gov = new KeyClient(sovereign, cred, clientOptions);
    const k = await gov.createRsaKey("g1");
    expect((await gov.getKey("g1")).id === k.id, "getKey differs");
    let refused = false;
    try {
      await cred.getToken("https://vault.azure.net/.default");
    } catch (e) {
      refused = /AADSTS70011/.test(e.message);
    }
    expect(refused, "the sovereign double issued a token for the public cloud's resource");
  });
  console.log(`sdk_check: all ${passed} checks passed against the SDK`);
}

const argv = process.argv.slice(2);
if (argv[0] === "--client") {
  client().catch((e) => fail(`MISMATCH: ${e instanceof Mismatch ? e.message : e.stack || e}`));
} else if (argv.length === 0 || (argv.length === 1 && argv[0] === "--self-test")) {
  parent(argv[0] === "--self-test");
} else {
  console.error("usage: node sdk_check.mjs [--self-test]");
  process.exit(2);
}
