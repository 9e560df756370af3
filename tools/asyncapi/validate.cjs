// Validates an AsyncAPI document with the real parser (@asyncapi/parser).
// Usage: node validate.cjs PARSER_DIR DOCUMENT
//   PARSER_DIR: where scripts/tools/observability.sh ran `npm ci` (.cache/asyncapi-parser)
// Prints one JSON object: {"valid": bool, "asyncapi": version, "diagnostics": [...],
// "operations": [ids], "channels": [ids], "messages": [ids]} and exits 0 when valid, 1 when not.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

async function main() {
  const [parserDir, documentPath] = process.argv.slice(2);
  const load = createRequire(path.join(path.resolve(parserDir), "package.json"));
  const { Parser } = load("@asyncapi/parser");
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(documentPath, "utf8"));
  const severities = ["error", "warning", "information", "hint"];
  const report = {
    valid: document !== undefined && !diagnostics.some((d) => d.severity === 0),
    asyncapi: document ? document.version() : null,
    diagnostics: diagnostics.map((d) => ({
      severity: severities[d.severity] || String(d.severity),
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    })),
    operations: document ? document.operations().all().map((o) => o.id()) : [],
    channels: document ? document.channels().all().map((c) => c.id()) : [],
    messages: document ? document.components().messages().all().map((m) => m.id()) : [],
  };
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(report.valid ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`error: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
