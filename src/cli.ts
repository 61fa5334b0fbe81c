/**
 * The `x86mmu` command line: run scenarios, explain walks, show the demo.
 * Exit status: 0 success, 1 a scenario could not run (malformed input), 2 a
 * usage error or unreadable file.
 */

import "./node.js";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseScenarioItems } from "./scenario/parse.js";
import { formatResult } from "./scenario/format.js";
import { CoreEngine } from "./scenario/core-engine.js";
import { ReferenceEngine } from "./reference/engine.js";
import type { ScenarioEngine } from "./scenario/types.js";
import { explainAccess, style } from "./explain.js";
import { runDemo } from "./demo.js";

const HELP = `x86mmu - an x86-64 MMU (4/5-level paging, TLB, page faults) in WebAssembly

Usage:
  x86mmu run FILE [--trace] [--engine core|reference]
      Run the scenarios in FILE (.json: one scenario; .jsonl: one per line;
      -: stdin) and print one result per scenario (docs/scenario-format.md).
      --trace adds each walk, level by level, to every result.
  x86mmu explain FILE [--color|--no-color]
      Run the scenarios in FILE and explain every access for people: the
      address split into its indices, each entry with its flags, and why the
      walk stopped.
  x86mmu demo
      Build a small address space, translate a few addresses and explain the
      walks (what npm start shows).
  x86mmu --help | --version

Exit status: 0 ok, 1 a scenario is malformed (named on stderr with its field;
the others still run), 2 usage error or unreadable file.`;

function readInput(file: string): string {
  return file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
}

export function main(argv: string[], out = (s: string) => process.stdout.write(s), err = (s: string) => process.stderr.write(s)): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        trace: { type: "boolean" },
        engine: { type: "string" },
        color: { type: "boolean" },
        "no-color": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    err(`x86mmu: ${(e as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    out("x86mmu 0.1.0\n");
    return 0;
  }
  if (values.help || command === undefined || command === "help") {
    out(HELP + "\n");
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === "demo") {
    const colour = values.color ?? (!values["no-color"] && process.stdout.isTTY === true && !process.env.NO_COLOR);
    runDemo(style(colour), (line) => out(line + "\n"));
    return 0;
  }
  if (command !== "run" && command !== "explain") {
    err(`x86mmu: unknown command "${command}"\n\n${HELP}\n`);
    return 2;
  }
  const file = rest[0];
  if (file === undefined || rest.length > 1) {
    err(`x86mmu ${command}: give exactly one FILE (or - for stdin)\n`);
    return 2;
  }
  let engine: ScenarioEngine;
  const engineName = values.engine ?? "core";
  if (engineName === "core") engine = new CoreEngine();
  else if (engineName === "reference") engine = new ReferenceEngine();
  else {
    err(`x86mmu: --engine must be "core" or "reference", not "${engineName}"\n`);
    return 2;
  }
  let text: string;
  try {
    text = readInput(file);
  } catch (e) {
    err(`x86mmu ${command}: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const { jsonl, items } = parseScenarioItems(text, file);
  let status = 0;
  const colour = values.color ?? (!values["no-color"] && process.stdout.isTTY === true && !process.env.NO_COLOR);
  for (const item of items) {
    if (item.error) {
      err(`x86mmu: ${item.error.message}\n`);
      status = 1;
      continue;
    }
    const s = item.scenario;
    if (command === "run") {
      const o = formatResult(engine.run(s, { trace: values.trace }), { trace: values.trace });
      out((jsonl ? JSON.stringify(o) : JSON.stringify(o, null, 2)) + "\n");
    } else {
      const r = engine.run(s, { trace: true });
      const st = style(colour);
      out(st.bold(`# ${s.name || "(unnamed scenario)"}`) + "\n");
      s.accesses.forEach((a, i) => out(explainAccess(a, r.results[i]!, s.cpu, st) + "\n\n"));
      if (r.memory.length) {
        out("Memory words changed:\n");
        for (const m of r.memory) out(`  ${"0x" + m.paddr.toString(16)} = ${"0x" + m.value.toString(16)}\n`);
        out("\n");
      }
    }
  }
  return status;
}
