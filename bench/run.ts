/**
 * `npm run bench [-- --quick] [-- --only translate,copy] [-- --verbose]`
 *
 * Runs every suite, each in its own Node process (so one suite's JIT state,
 * garbage and 2 GiB of touched frames do not leak into the next), then prints
 * one table: each case's units per second, median nanoseconds per unit, and
 * its speed relative to the baseline measured in the same process. Saves
 * bench/results/<date>.json and latest.json (every row, machine, verdicts),
 * benny's chart pages (bench/results/*.chart.html), and bench/results/latest.md
 * (the table and the target verdicts, committed; written by full runs of
 * every suite only: --quick and --only runs write partial.md, not committed).
 */

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { cpus, totalmem, platform, release, arch } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, staleBuildWarning } from "./lib.js";
import type { Ctx, Row } from "./harness.js";
import { evaluateTargets, type Verdict } from "./targets.js";

const SUITES = ["translate", "access", "copy", "owner", "scale", "scenario", "embedding", "smp"] as const;

const args = process.argv.slice(2);
const flag = (f: string) => args.includes(f);
const value = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag("--quick");
const resultsDir = join(ROOT, "bench", "results");

// The yardstick (bench/baselines/minimal-walker.mjs) is plain JavaScript used
// verbatim: tsc does not emit it, so it is copied next to the compiled suites
// before any suite imports it.
{
  const dst = join(dirname(fileURLToPath(import.meta.url)), "baselines", "minimal-walker.mjs");
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(join(ROOT, "bench", "baselines", "minimal-walker.mjs"), dst);
}

async function child(name: string, out: string): Promise<void> {
  const ctx: Ctx = { quick, resultsDir, rows: [], log: (m) => process.stderr.write(m + "\n") };
  const mod = (await import(`./suites/${name}.js`)) as { run(ctx: Ctx): Promise<void> };
  await mod.run(ctx);
  writeFileSync(out, JSON.stringify(ctx.rows));
}

/** What V8 inlines of the baselines (checked with `node --trace-turbo-inlining`; docs/benchmarks.md, "Inlining"). */
const INLINING =
  "Baselines' inlining (checked by hand on 2026-12-04 with Node v20.20.2 and `--trace-turbo-inlining`, not by this run): the yardstick's `walk` (275 bytes of bytecode) is inlined into its timing loops; " +
  "the full-check walker's `translate` (its TLB hit, 183 bytes) into the access loops, and its batch loop has the hit inline; its walk of a miss (1078 bytes, every check) is a call.";

function fillRatios(rows: Row[]): void {
  for (const r of rows) {
    if (!r.baseline) continue;
    const b = rows.find((x) => x.suite === r.suite && x.group === r.group && x.name === r.baseline);
    // A suite may set the ratio itself (smp: the median of per-round ratios).
    if (b && r.ratio === undefined) r.ratio = b.ns / r.ns;
  }
}

const fmtNum = (v: number): string => {
  if (v >= 1e9) return (v / 1e9).toFixed(2) + " G";
  if (v >= 1e6) return (v / 1e6).toFixed(2) + " M";
  if (v >= 1e3) return (v / 1e3).toFixed(1) + " k";
  return v.toFixed(v >= 100 ? 0 : 1);
};
const fmtNs = (ns: number): string => {
  if (ns >= 1e9) return (ns / 1e9).toFixed(2) + " s";
  if (ns >= 1e6) return (ns / 1e6).toFixed(2) + " ms";
  if (ns >= 1e4) return (ns / 1e3).toFixed(1) + " µs";
  if (ns >= 100) return ns.toFixed(0) + " ns";
  return ns.toFixed(2) + " ns";
};

function table(rows: Row[]): string {
  const lines = ["| Group | Case | Unit | Units/s | Median per unit | ± | vs baseline |", "|---|---|---|---:|---:|---:|---|"];
  let last = "";
  for (const r of rows) {
    const g = `${r.suite}: ${r.group}`;
    const ratio = r.ratio !== undefined ? `${r.ratio.toFixed(2)}× ${r.baseline!.replace(/^baseline: /, "")}` : r.name.startsWith("baseline") ? "(baseline)" : "";
    const extra = r.extra ? " (" + Object.entries(r.extra).map(([k, v]) => `${k} ${v}`).join(", ") + ")" : "";
    lines.push(`| ${g === last ? "" : g} | ${r.name}${extra} | ${r.unit} | ${fmtNum(r.perSec)} | ${fmtNs(r.ns)} | ${r.rme !== undefined ? r.rme.toFixed(1) + "%" : `n=${r.samples}`} | ${ratio} |`);
    last = g;
  }
  return lines.join("\n");
}

function verdictTable(vs: Verdict[]): string {
  const lines = ["| Target | Measured | Verdict |", "|---|---|---|"];
  for (const v of vs) lines.push(`| ${v.target} | ${v.measured} | ${v.verdict}${v.by ? ` (${v.by})` : ""} |`);
  return lines.join("\n");
}

async function parent(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const stale = staleBuildWarning();
  if (stale) process.stderr.write(`bench: warning: ${stale}\n`);
  const only = value("--only")?.split(",");
  const suites = SUITES.filter((s) => !only || only.includes(s));
  const rows: Row[] = [];
  const started = Date.now();
  const failures: string[] = [];
  for (const s of suites) {
    const t0 = Date.now();
    process.stderr.write(`bench: ${s}${quick ? " (quick)" : ""}...\n`);
    const out = join(resultsDir, `.tmp-${s}-${process.pid}.json`);
    const r = spawnSync(process.execPath, ["--max-old-space-size=8192", fileURLToPath(import.meta.url), "--child", s, "--out", out, ...(quick ? ["--quick"] : [])], {
      stdio: ["ignore", flag("--verbose") ? "inherit" : "ignore", "inherit"],
    });
    if (r.status !== 0) {
      failures.push(`${s} (exit ${r.status ?? r.signal})`);
      process.stderr.write(`bench: suite ${s} failed\n`);
      continue;
    }
    rows.push(...(JSON.parse(readFileSync(out, "utf8")) as Row[]));
    rmSync(out, { force: true });
    process.stderr.write(`bench: ${s} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  fillRatios(rows);
  const verdicts = evaluateTargets(rows);
  const date = new Date();
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  };
  const seconds = (Date.now() - started) / 1000;
  const head = `x86mmu benchmarks, ${date.toISOString().slice(0, 16).replace("T", " ")} UTC, ${quick ? "quick" : "full"} run (${seconds.toFixed(0)} s)\n` +
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`;
  const t = table(rows);
  const vt = verdictTable(verdicts);
  process.stdout.write(`\n${head}\n\n${t}\n\nTargets (issues 12 and 15):\n\n${vt}\n\n${INLINING}\n`);
  if (failures.length) process.stdout.write(`\nFailed suites: ${failures.join(", ")}\n`);
  const json = JSON.stringify({ date: date.toISOString(), quick, seconds, machine, rows, verdicts, failures }, null, 1);
  const stamp = date.toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(resultsDir, `${stamp}${quick ? "-quick" : ""}.json`), json);
  writeFileSync(join(resultsDir, "latest.json"), json);
  const md = `# Latest benchmark results\n\n${head}\n\nGenerated by \`npm run bench${quick ? " -- --quick" : ""}\`; see docs/benchmarks.md for what each case measures. ` +
    `"Median per unit" is the median sample's time per operation divided by the units the operation processes (e.g. 4096 addresses of a batch). ` +
    `"vs baseline" is the baseline's time per unit divided by this case's (above 1: faster than the baseline), both measured in the same process.\n\n${t}\n\n## Targets (issues 12 and 15)\n\n${vt}\n\n${INLINING}\n` +
    (failures.length ? `\nFailed suites: ${failures.join(", ")}\n` : "");
  // Only a full run (every suite, full sampling) replaces the committed table.
  const mdName = quick || only ? "partial.md" : "latest.md";
  writeFileSync(join(resultsDir, mdName), md);
  process.stderr.write(`bench: saved bench/results/${mdName}, latest.json, ${stamp}${quick ? "-quick" : ""}.json and chart pages\n`);
  if (failures.length) process.exitCode = 1;
}

if (flag("--child")) await child(value("--child")!, value("--out")!);
else await parent();
