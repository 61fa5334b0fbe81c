/**
 * The `x86mmu` command line: run scenarios, explain walks, show the demo.
 * Exit status: 0 success, 1 a scenario could not run (malformed input), 2 a
 * usage error or unreadable file.
 */

import "../core/load-node.js";
import { parseArgs } from "node:util";
import { formatResult } from "../scenario/index.js";
import { CoreEngine, ScenarioError } from "../scenario/index.js";
import { ReferenceEngine } from "../reference/index.js";
import type { Scenario, ScenarioEngine, ScenarioResult } from "../scenario/index.js";
import { scenarioItems } from "./input.js";
import { explainAccess, explainTlbEvent, explainTlbStep, style, traceFacts } from "./explain.js";
import { runDemo } from "./demo.js";
import { MAP_HELP, explainImage, mapCommand, runImage } from "./map.js";
import { EXERCISE_OPTIONS, exerciseCommand } from "./exercise.js";
import { LONG_MODE, LegacyPageTable, tableFormatOf } from "../mmu/index.js";
import { CR4_LA57_BIT } from "../arch/index.js";
import type { LegacyPageSize, PageSize, PteFlags } from "../mmu/index.js";
import type { Access } from "../scenario/index.js";
import { hex, X86MmuError } from "../base/index.js";

const HELP = `x86mmu - an x86-64 MMU (4/5-level paging, TLB, page faults) in WebAssembly

Usage:
  x86mmu run FILE [--trace] [--engine core|reference] [--max-memory BYTES]
      Run the scenarios in FILE (.json: one scenario; .jsonl: one per line,
      read and run one at a time; -: stdin) and print one result per
      scenario (docs/scenario-format.md).
      --trace adds each walk, level by level, to every result.
      --max-memory refuses a scenario whose memory regions describe more than
      BYTES (0x-hex or decimal, or with K, M or G; default 64M) before any of
      it is built.
  x86mmu run --image IMAGE [--registers FILE] [--cr3 V ...] --access ACCESS ... [--trace]
      Perform the accesses (as explain's ACCESS, below) one after another on a
      memory image's tables (as for map, below) and print one result as run
      does: "name" is the image file, "memory" the words the accesses changed.
  x86mmu explain FILE [--tlb] [--color|--no-color] [--engine E] [--max-memory BYTES]
      Run the scenarios in FILE and explain every access for people: the
      address split into its indices (hex and binary), per level the table,
      the entry with its flags named and what it allows, the permission
      checks, why the walk stopped, and the error code bit by bit.
      --tlb keeps the TLB across the accesses (instead of the format's flush
      before each one) and says per access: hit or miss, entries filled and
      evicted.
  x86mmu explain [--mode M] [--cr0 V] [--cr3 V] [--cr4 V] [--efer V] [--pkru V] [--pkrs V]
                 --map VA=PA[:FLAGS] ... [--mem PADDR=QWORD ...] --access ACCESS ...
      The same, with no file: build page tables with the page-table helpers
      (tables from CR3 upward; defaults CR0 0x80010033, CR3 0x1000, CR4 0x20,
      EFER 0xd00), then explain each access in order.
        --mode  32-bit (defaults CR4 0x10 = PSE, EFER 0), pae (CR4 0x20, EFER
                0x800 = NXE), 4-level or 5-level; without it the registers
                pick the table format (CR4.PAE, EFER.LME, CR4.LA57)
        FLAGS   comma-separated: rw, user, nx, g, a, d, pwt, pcd, pk=N and the
                page size 4k (default), 2m, 4m (32-bit) or 1g; e.g. 0x400000=0x5000:rw,user
        --mem   a raw 64-bit word to store after mapping (e.g. to break an entry)
        ACCESS  OP:VA[:SIZE][:cpl0|cpl3][:ac][:value=V], OP read, write or
                fetch; defaults size 1, cpl0; e.g. read:0x400010:8:cpl3
      --image IMAGE [--registers FILE] instead of --map/--mem/--mode: explain
        the accesses on a memory image's tables (as for map, below).
      Example: x86mmu explain --cr4 0x3000a0 --map 0x400000=0x5000:user \\
                 --access read:0x400010:8 --access read:0x400010:8:ac
  x86mmu exercise --seed N [--count K] [--mode 32-bit|pae|4-level|5-level]
                  [--topics perm,large,pk,smap,smep,nx,wp,rsvd,ad,canon] [--answers] [--json]
      Generate K (default 1) exercises from seed N: registers, the page tables'
      entries as hex and a list of accesses, for which to give the physical
      address or the fault (#PF with its error code, or #GP). The same seed
      gives the same exercises. --mode: default 4-level. --topics: what the
      exercises plant (default all that the mode has): permission faults,
      large pages, protection keys, SMAP, SMEP, NX, CR0.WP, reserved bits,
      accessed/dirty flags, non-canonical addresses.
      --answers adds the solutions, each access explained as explain does.
      --json prints one line per exercise, {"scenario": ..., "answers": ...}:
      a scenario for x86mmu run and the results run gives for it.
${MAP_HELP}
  x86mmu demo
      Build a small address space, translate a few addresses and explain the
      walks (what npm start shows).
  x86mmu --help | --version

Exit status: 0 ok, 1 a scenario is malformed or cannot run, or the input holds
no scenario (each named on stderr with its field; the others still run),
2 usage error or unreadable file.`;

/** Thrown by an `out` function when its reader has gone (EPIPE): the command stops, successfully. */
export class OutputClosed extends Error {
  constructor() {
    super("output closed");
  }
}

/** The default --max-memory: 64 MiB of memory regions per scenario. */
export const DEFAULT_MAX_MEMORY = 64n << 20n;

/** Which options each form of each command reads (the others are refused, not ignored). */
const OPTIONS_OF: Record<string, string[]> = {
  run: ["trace", "engine", "max-memory"],
  explain: ["tlb", "color", "no-color", "engine", "max-memory"],
  "run-image": ["image", "registers", "cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr", "access", "trace"],
  "explain-compact": ["mode", "cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr", "map", "mem", "access", "color", "no-color", "image", "registers"],
  demo: ["color", "no-color"],
  exercise: EXERCISE_OPTIONS,
};

/** The first option given that `form` does not read, as "--name", or undefined. */
function stray(values: Record<string, unknown>, form: string): string | undefined {
  const allowed = OPTIONS_OF[form]!;
  const k = Object.keys(values).find((key) => values[key] !== undefined && !allowed.includes(key));
  return k === undefined ? undefined : `--${k}`;
}

/** A byte count: 0x-hex or decimal, optionally with K, M or G (binary). */
function parseBytes(text: string): bigint | undefined {
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmg]?)$/i.exec(text.trim());
  if (!m) return undefined;
  return BigInt(m[1]!) << BigInt({ "": 0, k: 10, m: 20, g: 30 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"]);
}

/** A parse error of node:util parseArgs, in one line and without the help. */
function usageMessage(e: unknown): string {
  const code = (e as { code?: string }).code;
  const msg = (e as Error).message;
  const opt = /'(-[^']+)'/.exec(msg)?.[1]?.split(" ")[0];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && opt) return `unknown option ${opt} (x86mmu --help lists the options)`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && opt) return `option ${opt} ${/does not take/.test(msg) ? "takes no value" : "needs a value"}`;
  return msg.replace(/\.?$/, "").replace(/'/g, "");
}

/**
 * Colour: --color / --no-color decide; else FORCE_COLOR (set and not "0" forces it
 * on, "0" off, as Node and chalk read it), then NO_COLOR, then whether stdout is a terminal.
 */
function wantColour(values: { color?: boolean; "no-color"?: boolean }): boolean {
  if (values.color !== undefined) return values.color;
  if (values["no-color"]) return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return process.stdout.isTTY === true && !process.env.NO_COLOR;
}

/** The memory a scenario's regions describe, in bytes. */
const regionBytes = (s: Scenario): bigint => s.memory.reduce((n, r) => n + 8n * BigInt("qwords" in r ? r.qwords.length : r.count), 0n);

export function main(argv: string[], out = (s: string) => void process.stdout.write(s), err = (s: string) => void process.stderr.write(s)): number {
  try {
    return command(argv, out, err);
  } catch (e) {
    if (e instanceof OutputClosed) return 0; // the reader stopped early (x86mmu run big.jsonl | head -1)
    throw e;
  }
}

function command(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  // map has options of its own (--mem there is a flag, not compact explain's PADDR=QWORD).
  if (argv[0] === "map") return mapCommand(argv.slice(1), `Usage:\n${MAP_HELP}`, out, err);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        trace: { type: "boolean" },
        tlb: { type: "boolean" },
        cr0: { type: "string" },
        cr3: { type: "string" },
        cr4: { type: "string" },
        efer: { type: "string" },
        pkru: { type: "string" },
        pkrs: { type: "string" },
        maxphyaddr: { type: "string" },
        image: { type: "string" },
        registers: { type: "string" },
        mode: { type: "string" },
        map: { type: "string", multiple: true },
        mem: { type: "string", multiple: true },
        access: { type: "string", multiple: true },
        engine: { type: "string" },
        "max-memory": { type: "string" },
        color: { type: "boolean" },
        "no-color": { type: "boolean" },
        seed: { type: "string" },
        count: { type: "string" },
        topics: { type: "string" },
        answers: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    err(`x86mmu: ${usageMessage(e)}\n`);
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
  if (command === "exercise") {
    const bad = stray(values, "exercise");
    if (bad) {
      err(`x86mmu exercise: ${bad} does not apply to exercise\n`);
      return 2;
    }
    return exerciseCommand(rest, values, out, err);
  }
  if (command === "demo") {
    const bad = rest.length > 0 ? `"${rest[0]}"` : stray(values, "demo");
    if (bad) {
      err(`x86mmu demo: ${bad} does not apply to demo (it takes no file and no option but --color/--no-color)\n`);
      return 2;
    }
    runDemo(style(wantColour(values)), (line) => out(line + "\n"));
    return 0;
  }
  if (command !== "run" && command !== "explain") {
    err(`x86mmu: unknown command "${command}" (run, explain, map, exercise or demo; x86mmu --help says more)\n`);
    return 2;
  }
  const colourOn = wantColour(values);
  const compact = ["mode", "cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr", "map", "mem", "access", "image", "registers"].filter((k) => values[k as keyof typeof values] !== undefined);
  if (command === "run" && values.image !== undefined) {
    // run --image: the accesses on a memory image's tables (map.ts), printed as run prints results.
    const bad = rest.length > 0 ? `"${rest[0]}"` : stray(values, "run-image");
    if (bad) {
      err(`x86mmu run: ${bad} does not apply to run --image (no FILE; --registers, the register options, --access and --trace)\n`);
      return 2;
    }
    let accesses;
    try {
      accesses = ((values.access as string[] | undefined) ?? []).map(parseAccess);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      err(`x86mmu run: ${e.message}\n`);
      return 2;
    }
    if (accesses.length === 0) {
      err("x86mmu run: give at least one --access OP:VA[...] with --image\n");
      return 2;
    }
    return runImage(values, accesses, values.trace === true, out, err);
  }
  if (compact.length > 0) {
    if (command !== "explain" || rest.length > 0) {
      err(`x86mmu ${command}: --${compact[0]} belongs to the compact form, "x86mmu explain" with no FILE\n`);
      return 2;
    }
    const bad = stray(values, "explain-compact");
    if (bad) {
      err(`x86mmu explain: ${bad} does not apply to the compact form (no FILE)\n`);
      return 2;
    }
    return explainCompact(values, style(colourOn), out, err);
  }
  const bad = stray(values, command);
  if (bad) {
    err(`x86mmu ${command}: ${bad} does not apply to ${command}${bad === "--trace" ? " (explain always shows the walk)" : ""}\n`);
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
  const core = engine instanceof CoreEngine ? engine : undefined;
  if (command === "explain" && values.tlb && !core) {
    err("x86mmu explain: --tlb needs the core engine (the reference walker has no TLB)\n");
    return 2;
  }
  const maxMemory = values["max-memory"] === undefined ? DEFAULT_MAX_MEMORY : parseBytes(values["max-memory"]);
  if (maxMemory === undefined) {
    err(`x86mmu ${command}: --max-memory "${values["max-memory"]}" is not a byte count (0x-hex or decimal, optionally with K, M or G)\n`);
    return 2;
  }
  let status = 0;
  let seen = 0;
  const colour = colourOn;
  const items = scenarioItems(file);
  for (;;) {
    let next;
    try {
      next = items.next();
    } catch (e) {
      if (e instanceof OutputClosed) throw e;
      err(`x86mmu ${command}: cannot read ${file}: ${(e as Error).message}\n`);
      return 2;
    }
    if (next.done) break;
    const item = next.value;
    seen++;
    if (item.error) {
      err(`x86mmu: ${item.error.message}\n`);
      status = 1;
      continue;
    }
    const s = item.scenario;
    const label = `scenario ${JSON.stringify(s.name)}`;
    const bytes = regionBytes(s);
    if (bytes > maxMemory) {
      err(`x86mmu: ${label} memory: its regions describe ${hex(bytes)} bytes, more than --max-memory (${hex(maxMemory)}); not run (raise --max-memory to run it)\n`);
      status = 1;
      continue;
    }
    // A scenario that cannot run (say, a register the processor would refuse,
    // or an error of x86mmu itself) is reported with its name; the scenarios
    // after it still run.
    let r: ScenarioResult;
    try {
      r = core && command === "explain" ? core.run(s, { trace: true, keepTlb: values.tlb === true }) : engine.run(s, { trace: command === "explain" || values.trace });
    } catch (e) {
      if (e instanceof OutputClosed) throw e;
      const what = e instanceof X86MmuError ? e.message : `internal error (please report it): ${(e as Error)?.message ?? String(e)}`;
      err(`x86mmu: ${e instanceof ScenarioError ? "" : `${label}: `}${what}\n`);
      status = 1;
      continue;
    }
    if (command === "run") {
      const o = formatResult(r, { trace: values.trace }) as { results: Record<string, unknown>[] };
      if (values.trace) traceFacts(o, r.results, s.sequence ?? s.accesses, s.cpu);
      out((item.jsonl ? JSON.stringify(o) : JSON.stringify(o, null, 2)) + "\n");
    } else {
      const st = style(colour);
      out(st.bold(`# ${s.name || "(unnamed scenario)"}`) + "\n");
      const keep = values.tlb === true || s.sequence !== undefined;
      if (keep) out(st.dim(`(${s.sequence ? "TLB steps" : "--tlb"}: the TLB is kept across the accesses, not flushed before each one)`) + "\n");
      // A MOV to CR3 step changes the CR3 later accesses on that CPU are explained with.
      const cpuOf = new Map<number, typeof s.cpu>();
      (s.sequence ?? s.accesses).forEach((item, i) => {
        const result = r.results[i]!;
        const ev = keep && core ? core.tlbEvents[i] : undefined;
        const on = item.cpu ?? 0;
        const cpu = cpuOf.get(on) ?? s.cpu;
        if ("step" in item) {
          out(explainTlbStep(item, result, ev, st) + "\n\n");
          if (item.step === "mov_cr3" && result.ok) cpuOf.set(on, { ...cpu, cr3: item.value });
        } else if (!("step" in result)) {
          out((s.cpus !== undefined ? st.bold(`CPU ${on}:`) + "\n" : "") + explainAccess(item, result, cpu, st) + "\n" + (ev ? explainTlbEvent(ev, st) + "\n" : "") + "\n");
        }
      });
      if (r.memory.length) {
        out("Memory words changed:\n");
        for (const m of r.memory) out(`  ${"0x" + m.paddr.toString(16)} = ${"0x" + m.value.toString(16)}\n`);
        out("\n");
      }
    }
  }
  if (seen === 0) {
    err(`x86mmu ${command}: ${file === "-" ? "stdin" : file} holds no scenario\n`);
    return 1;
  }
  return status;
}

// ---- The compact form: registers, mappings and accesses on the command line ----

class UsageError extends Error {}

function num(text: string, what: string): bigint {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) throw new UsageError(`${what} "${text}" is not a number (0x-hex or decimal)`);
  return BigInt(text);
}

/** `VA=PA[:FLAGS]`: one page of the size FLAGS names (4k default). */
export function parseMap(text: string): { va: bigint; pa: bigint; size: PageSize | "4M"; flags: PteFlags } {
  const m = /^([^=]+)=([^:]+)(?::(.*))?$/.exec(text);
  if (!m) throw new UsageError(`--map "${text}" is not VA=PA[:FLAGS]`);
  const flags: PteFlags = {};
  let size: PageSize | "4M" = "4K";
  for (const f of (m[3] ?? "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (f === "rw" || f === "w" || f === "writable") flags.writable = true;
    else if (f === "user" || f === "u" || f === "us") flags.user = true;
    else if (f === "nx" || f === "xd") flags.noExecute = true;
    else if (f === "g" || f === "global") flags.global = true;
    else if (f === "a") flags.accessed = true;
    else if (f === "d") flags.dirty = true;
    else if (f === "pwt") flags.writeThrough = true;
    else if (f === "pcd") flags.cacheDisable = true;
    else if (f === "4k" || f === "2m" || f === "4m" || f === "1g") size = f.toUpperCase() as PageSize | "4M";
    else if (/^pk=\d+$/.test(f)) flags.pkey = Number(f.slice(3));
    else throw new UsageError(`--map "${text}": unknown flag "${f}" (rw, user, nx, g, a, d, pwt, pcd, pk=N, 4k, 2m, 4m, 1g)`);
  }
  return { va: num(m[1]!, "--map linear address"), pa: num(m[2]!, "--map physical address"), size, flags };
}

/** `OP:VA[:SIZE][:cpl0|cpl3][:ac][:value=V]`. */
export function parseAccess(text: string): Access {
  const [op0, va, ...mods] = text.split(":");
  const ops: Record<string, Access["op"]> = { read: "read", r: "read", write: "write", w: "write", fetch: "fetch", x: "fetch" };
  const op = ops[(op0 ?? "").toLowerCase()];
  if (!op || va === undefined) throw new UsageError(`--access "${text}" is not OP:VA[:SIZE][:cpl0|cpl3][:ac][:value=V] with OP read, write or fetch`);
  const a: Access = { op, va: num(va, "--access address"), size: 1, cpl: 0, ac: false, value: 0n };
  for (const m of mods.map((x) => x.toLowerCase())) {
    if (m === "1" || m === "2" || m === "4" || m === "8") a.size = Number(m) as Access["size"];
    else if (m === "cpl0" || m === "cpl3") a.cpl = Number(m[3]) as 0 | 3;
    else if (m === "user") a.cpl = 3;
    else if (m === "ac") a.ac = true;
    else if (m.startsWith("value=")) a.value = num(m.slice(6), "--access value");
    else throw new UsageError(`--access "${text}": unknown part "${m}" (1, 2, 4 or 8; cpl0 or cpl3; ac; value=V)`);
  }
  if (op === "fetch") a.size = 1;
  if (a.value >= 1n << BigInt(8 * a.size)) throw new UsageError(`--access "${text}": value does not fit in ${a.size} byte(s)`);
  return a;
}

const FLAG_WORDS: [keyof PteFlags, string][] = [
  ["writable", "writable"], ["user", "user"], ["noExecute", "execute-disable"], ["global", "global"], ["accessed", "accessed"], ["dirty", "dirty"],
  ["writeThrough", "write-through"], ["cacheDisable", "cache-disable"],
];

function explainCompact(
  values: Record<string, string | boolean | string[] | undefined>,
  st: ReturnType<typeof style>,
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  try {
    if (values.image !== undefined || values.registers !== undefined) {
      // A memory image instead of tables built with --map (map.ts).
      if (values.image === undefined) throw new UsageError("--registers goes with --image");
      const extra = ["map", "mem", "mode"].find((k) => values[k] !== undefined);
      if (extra) throw new UsageError(`--${extra} does not apply with --image (the image holds the tables)`);
      const accesses = ((values.access as string[] | undefined) ?? []).map(parseAccess);
      if (accesses.length === 0) throw new UsageError("give at least one --access OP:VA[...]");
      return explainImage(values, accesses, st, out, err);
    }
    const reg = (k: string, d: bigint) => (values[k] === undefined ? d : num(values[k] as string, `--${k}`));
    // --mode: the registers' defaults for that mode; the registers then pick the table format.
    const modeDefaults: Record<string, { cr4: bigint; efer: bigint }> = {
      "32-bit": { cr4: 0x10n, efer: 0n }, pae: { cr4: 0x20n, efer: 0x800n }, "4-level": LONG_MODE, "5-level": { cr4: LONG_MODE.cr4 | (1n << BigInt(CR4_LA57_BIT)), efer: LONG_MODE.efer },
    };
    const mode = values.mode as string | undefined;
    if (mode !== undefined && !Object.hasOwn(modeDefaults, mode)) throw new UsageError(`--mode must be 32-bit, pae, 4-level or 5-level, not "${mode}"`);
    const defaults = mode === undefined ? LONG_MODE : modeDefaults[mode]!;
    const cpu = {
      cr0: reg("cr0", LONG_MODE.cr0), cr3: reg("cr3", 0x1000n), cr4: reg("cr4", defaults.cr4), efer: reg("efer", defaults.efer),
      pkru: Number(reg("pkru", 0n)), pkrs: Number(reg("pkrs", 0n)), maxPhyAddr: Number(reg("maxphyaddr", 52n)),
    };
    const maps = ((values.map as string[] | undefined) ?? []).map(parseMap);
    const mems = ((values.mem as string[] | undefined) ?? []).map((t) => {
      const m = /^([^=]+)=(.+)$/.exec(t);
      if (!m) throw new UsageError(`--mem "${t}" is not PADDR=QWORD`);
      const paddr = num(m[1]!, "--mem address");
      if (paddr % 8n !== 0n) throw new UsageError(`--mem address ${hex(paddr)} is not 8-byte aligned`);
      return { paddr, value: num(m[2]!, "--mem value") };
    });
    const accesses = ((values.access as string[] | undefined) ?? []).map(parseAccess);
    if (accesses.length === 0) throw new UsageError("give at least one --access OP:VA[...]");
    const engine = new CoreEngine();
    const mmu = engine.mmu;
    const root = cpu.cr3 & 0x000ffffffffff000n;
    const format = tableFormatOf(cpu);
    if (mode !== undefined && format !== mode) throw new UsageError(`--mode ${mode} disagrees with the registers, which select ${format} paging (CR4.PAE, EFER.LME, CR4.LA57)`);
    const bytes = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n, "1G": 0x40000000n };
    // Back the frames of 4 KiB and 2 MiB pages first, so that the allocator
    // places the tables around them (it skips frames in use).
    if (root < 0x1000n) throw new UsageError("CR3 must point at a table above physical address 0 (e.g. --cr3 0x1000)");
    for (const m of maps) {
      if (m.size !== "1G") for (let o = 0n; o < bytes[m.size]; o += 0x1000n) mmu.memory.write(m.pa + o, 1, 0n);
    }
    if (mmu.memory.frames().includes(root)) throw new UsageError(`CR3 ${hex(root)} is inside a mapped page; choose another --cr3`);
    const data = new Set(mmu.memory.frames());
    mmu.memory.setAllocBase(root);
    const levels = ((cpu.cr4 >> BigInt(CR4_LA57_BIT)) & 1n) === 1n ? 5 : 4;
    const pt = format === "32-bit" || format === "pae" ? mmu.createPageTable({ mode: format }) : mmu.createPageTable({ levels });
    if (pt.root !== root || (format === "pae" && (cpu.cr3 & 0xfe0n) !== 0n)) throw new UsageError(`cannot place the root table at CR3 ${hex(root)}`);
    for (const m of maps) {
      if (pt instanceof LegacyPageTable) pt.map(m.va, m.pa, bytes[m.size], { size: m.size as LegacyPageSize, flags: m.flags });
      else pt.map(m.va, m.pa, bytes[m.size], { size: m.size as PageSize, flags: m.flags });
    }
    const tables = mmu.memory.frames().filter((f) => !data.has(f));
    for (const m of maps) {
      const len = bytes[m.size];
      const clash = tables.find((t) => t >= m.pa && t < m.pa + len);
      if (clash !== undefined) throw new UsageError(`the page table at ${hex(clash)} lies inside the page mapped at ${hex(m.va)} -> ${hex(m.pa)}; tables are placed from CR3 (${hex(root)}) upward, so map pages away from there`);
    }
    for (const m of mems) mmu.memory.write(m.paddr, 8, m.value);
    mmu.loadState(cpu);

    out(st.bold(`# ${format === "pae" ? "PAE" : format === "32-bit" ? "32-bit" : `${levels}-level`} page tables built from CR3 ${hex(cpu.cr3)} (tables at ${tables.map((t) => hex(t)).join(", ")})`) + "\n");
    out(`  CR0 ${hex(cpu.cr0)}  CR4 ${hex(cpu.cr4)}  EFER ${hex(cpu.efer)}${cpu.pkru ? `  PKRU ${hex(cpu.pkru)}` : ""}${cpu.pkrs ? `  IA32_PKRS ${hex(cpu.pkrs)}` : ""}\n`);
    for (const m of maps) {
      const words = FLAG_WORDS.filter(([k]) => m.flags[k]).map(([, w]) => w);
      if (!m.flags.writable) words.unshift("read-only");
      if (!m.flags.user) words.unshift("supervisor");
      if (m.flags.pkey) words.push(`key ${m.flags.pkey}`);
      out(`  map ${hex(m.va).padEnd(18)} -> ${hex(m.pa).padEnd(12)} ${{ "4K": "4 KiB", "2M": "2 MiB", "4M": "4 MiB", "1G": "1 GiB" }[m.size]}, ${words.join(", ")}\n`);
    }
    for (const m of mems) out(`  mem ${hex(m.paddr)} = ${hex(m.value)}\n`);
    out("\n");
    for (const a of accesses) out(explainAccess(a, engine.access(a, true), mmu.state, st) + "\n\n");
    return 0;
  } catch (e) {
    if (e instanceof OutputClosed) throw e;
    if (e instanceof UsageError || e instanceof X86MmuError) {
      err(`x86mmu explain: ${e.message}\n`);
      return 2;
    }
    err(`x86mmu explain: internal error (please report it): ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}
