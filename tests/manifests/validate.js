#!/usr/bin/env node
// Validates Kubernetes objects offline against the API schemas.
//
//   node validate.js PATH...                   every object must be valid
//   node validate.js --expect-invalid PATH...  every file must be refused,
//                                              for the reason its `# expect:` line names
//
// PATH is a YAML file or a directory (its *.yaml and *.yml files, recursively).
// Kinds of the Kubernetes API are checked with kubernetes-models (types,
// required fields, enums, formats), plus a check it lacks: a field the schema
// never looks at is an unknown field (a typo such as readOnlyRootFileSystem,
// which kubelet would silently ignore). kubernetes-models has no
// apiserver.config.k8s.io types, so an EncryptionConfiguration is checked
// against encryption-configuration.schema.json instead.
"use strict";

const fs = require("fs");
const path = require("path");

function requireDependency(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code !== "MODULE_NOT_FOUND") throw e;
    console.error(
      `validate.js: cannot load the npm package '${name}': ${path.join(__dirname, "node_modules")} ` +
        "is missing or incomplete. Run scripts/install-deps --test (it runs `npm ci` in tests/manifests)."
    );
    process.exit(1);
  }
}

const YAML = requireDependency("yaml");
const Ajv = requireDependency("ajv");
requireDependency("kubernetes-models/package.json");

const encryptionSchema = new Ajv({ allErrors: true }).compile(
  JSON.parse(fs.readFileSync(path.join(__dirname, "encryption-configuration.schema.json"), "utf8"))
);

// Wraps `value` so that every own property the validator reads is recorded;
// `seen` collects one entry per object reached.
function track(value, where, seen) {
  if (value === null || typeof value !== "object") return value;
  const read = new Set();
  seen.push({ where, value, read });
  const children = new Map();
  return new Proxy(value, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && Object.prototype.hasOwnProperty.call(target, prop)) {
        read.add(prop);
        if (!children.has(prop)) children.set(prop, track(target[prop], `${where}/${prop}`, seen));
        return children.get(prop);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return null;
  let group;
  try {
    group = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    if (e.code === "MODULE_NOT_FOUND") return null;
    throw e;
  }
  return Object.prototype.hasOwnProperty.call(group, kind) ? group[kind] : null;
}

// Returns the reasons `obj` is invalid (empty when it is valid).
function problems(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return ["not a Kubernetes object"];
  const { apiVersion, kind } = obj;
  if (apiVersion === "apiserver.config.k8s.io/v1" && kind === "EncryptionConfiguration") {
    if (encryptionSchema(obj)) return [];
    return encryptionSchema.errors.map((e) => {
      const extra = e.params && e.params.additionalProperty ? ` (unknown field ${e.params.additionalProperty})` : "";
      return `${e.instancePath || "/"} ${e.message}${extra}`;
    });
  }
  const Model = modelClass(apiVersion, kind);
  if (!Model) return [`unknown kind ${kind} in apiVersion ${apiVersion}`];
  const seen = [];
  try {
    Model.prototype.validate.call(track(obj, "", seen));
  } catch (e) {
    return [e.message];
  }
  const unknown = [];
  for (const { where, value, read } of seen) {
    for (const key of Object.keys(value)) {
      if (!read.has(key)) unknown.push(`unknown field ${where}/${key}`);
    }
  }
  return unknown;
}

function yamlFiles(p) {
  if (fs.statSync(p).isDirectory()) {
    return fs.readdirSync(p).sort().flatMap((name) => yamlFiles(path.join(p, name)));
  }
  return /\.ya?ml$/.test(p) ? [p] : [];
}

// Every object of a file, with its reasons; a file that does not parse, or
// holds no object, is one problem.
function checkFile(file) {
  const text = fs.readFileSync(file, "utf8");
  // Kubernetes reads YAML 1.1 (sigs.k8s.io/yaml): `yes` is a boolean there.
  const docs = YAML.parseAllDocuments(text, { version: "1.1" });
  const results = [];
  for (const doc of docs) {
    if (doc.errors.length) return [{ name: "(parse)", reasons: doc.errors.map((e) => e.message) }];
    const obj = doc.toJS();
    if (obj === null) continue;
    const name = `${obj.kind}/${obj.metadata && obj.metadata.name ? obj.metadata.name : "-"}`;
    results.push({ name, reasons: problems(obj) });
  }
  if (!results.length) return [{ name: "(file)", reasons: ["holds no object"] }];
  return results;
}

function main(argv) {
  const expectInvalid = argv[0] === "--expect-invalid";
  const paths = expectInvalid ? argv.slice(1) : argv;
  if (!paths.length) {
    console.error("usage: validate.js [--expect-invalid] PATH...");
    return 2;
  }
  const files = paths.flatMap(yamlFiles);
  if (!files.length) {
    console.error(`validate.js: no YAML file under ${paths.join(" ")}`);
    return 1;
  }
  let failures = 0;
  for (const file of files) {
    const results = checkFile(file);
    const reasons = results.flatMap((r) => r.reasons.map((why) => `${r.name}: ${why}`));
    if (!expectInvalid) {
      for (const r of results) console.log(`${r.reasons.length ? "FAIL" : "ok  "} ${file}: ${r.name}`);
      for (const why of reasons) console.log(`     ${why}`);
      failures += reasons.length ? 1 : 0;
      continue;
    }
    const expect = /^# expect: (.+)$/m.exec(fs.readFileSync(file, "utf8"));
    if (!expect) {
      console.log(`FAIL ${file}: no '# expect: <reason>' line`);
      failures++;
    } else if (!reasons.length) {
      console.log(`FAIL ${file}: accepted, but should be refused for: ${expect[1]}`);
      failures++;
    } else if (!reasons.some((why) => why.includes(expect[1]))) {
      console.log(`FAIL ${file}: refused, but not for '${expect[1]}':`);
      for (const why of reasons) console.log(`     ${why}`);
      failures++;
    } else {
      console.log(`ok   ${file}: refused (${reasons.find((why) => why.includes(expect[1]))})`);
    }
  }
  console.log(`validate.js: ${files.length} files checked, ${failures} with problems`);
  return failures ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
