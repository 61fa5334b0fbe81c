/**
 * `x86mmu map`: the page map of a machine state, as QEMU's monitor prints it
 * (`info tlb`, or `info mem` with --mem) or as JSON (--json), from a
 * scenario file (its cpu and memory) or from a memory image with registers
 * (--image FILE with --registers FILE and/or --cr3 ...). docs/images.md
 * describes the image and register formats; compressed files (.gz, .xz) are
 * recognised by their content and decompressed first.
 */

import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { CoreEngine, ScenarioError } from "../scenario/index.js";
import { Mmu, LONG_MODE, type CpuState } from "../mmu/index.js";
import { loadImage, compressionOf, type ImageFormat } from "../phys/index.js";
import { pageLeaves, qemuTlbLines, qemuMemLines, parseRegistersText, type PageLeaves } from "../inspect/index.js";
import { hex, X86MmuError } from "../base/index.js";
import { scenarioItems } from "./input.js";
import { explainAccess, traceFacts, type style } from "./explain.js";
import { formatResult } from "../scenario/index.js";
import type { Access } from "../scenario/index.js";

export const MAP_HELP = `  x86mmu map FILE [--mem | --json]
  x86mmu map --image IMAGE [--registers REGS] [--cr0 V --cr3 V --cr4 V --efer V --maxphyaddr N]
             [--format auto|sparse|raw|elf] [--base ADDR] [--mem | --json]
      Print the page map of a machine state: every present leaf of the tables
      CR3 points to, as QEMU's monitor command "info tlb" prints it (VA: PA
      XGPDACTUW, the leaf's own flags); --mem: as "info mem" prints it (ranges
      of equal effective user/write rights); --json: a JSON list of pages with
      page size, entry, protection key, A/D and effective rights.
      FILE is a scenario file (its cpu and memory; several scenarios: each
      map after a "# name" line). IMAGE is physical memory: a sparse image of
      <u64 address><4096 bytes> records, a raw dump (QEMU pmemsave; --base
      is the address of its first byte, default 0) or a QEMU dump-guest-memory
      ELF core; detected from the content unless --format says; .gz and .xz
      files are decompressed. REGS is JSON ({"cr0": "0x...", "cr3": ...,
      "cr4": ..., "efer": ..., "maxphyaddr": 40}, or a Linux sample's JSON) or
      QEMU's "info registers" text; register options override it (defaults:
      CR0 0x80010033, CR4 0x20, EFER 0xd00, MAXPHYADDR 52). docs/images.md.`;

const OPTIONS = {
  image: { type: "string" },
  registers: { type: "string" },
  format: { type: "string" },
  base: { type: "string" },
  cr0: { type: "string" },
  cr3: { type: "string" },
  cr4: { type: "string" },
  efer: { type: "string" },
  pkru: { type: "string" },
  pkrs: { type: "string" },
  maxphyaddr: { type: "string" },
  mem: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}
/** A file that cannot be read or decompressed (exit status 2). */
class FileError extends Error {}

const num = (text: string, what: string): bigint => {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) throw new UsageError(`${what} "${text}" is not a number (0x-hex or decimal)`);
  return BigInt(text);
};

/** The xz decompressor, run in a child process so that reading stays synchronous (the command line is). */
const XZ_CHILD = `
const { XzReadableStream } = require(process.argv[1]);
const { Readable } = require("node:stream");
const fs = require("node:fs");
const fail = (e) => { process.stderr.write(String((e && e.message) || e)); process.exit(1); };
try {
  Readable.fromWeb(new XzReadableStream(Readable.toWeb(fs.createReadStream(process.argv[2])))).on("error", fail).pipe(process.stdout);
} catch (e) { fail(e); }`;

/**
 * The bytes of a file, decompressed when its content is gzip (node:zlib) or
 * xz (the xz-decompress package, WebAssembly, in a child process). Throws
 * FileError saying what went wrong.
 */
export function readMaybeCompressed(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new FileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const kind = compressionOf(bytes);
  if (kind === "gzip") {
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new FileError(`cannot decompress ${path} (gzip): ${(e as Error).message}`);
    }
  }
  if (kind === "xz") {
    let module: string;
    try {
      module = createRequire(import.meta.url).resolve("xz-decompress");
    } catch {
      throw new FileError(`${path} is xz-compressed and the xz-decompress package is not installed: decompress it with xz -d first`);
    }
    try {
      return execFileSync(process.execPath, ["-e", XZ_CHILD, module, path], { maxBuffer: 2 ** 32, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const why = ((e as { stderr?: Buffer }).stderr?.toString() ?? "").trim() || (e as Error).message;
      throw new FileError(`cannot decompress ${path} (xz): ${why}; is it a complete .xz file? (or decompress it with xz -d first)`);
    }
  }
  return bytes;
}

const PAGE_KEYS = (p: PageLeaves["leaves"][number]): string =>
  JSON.stringify({
    va: hex(p.va),
    pa: hex(p.pa),
    pageSize: p.pageSize,
    level: p.level,
    entry: hex(p.entry),
    entryAddr: hex(p.entryAddr),
    ...p.flags,
  });

/** The map of `mmu` in the chosen form. */
function render(mmu: Mmu, form: "tlb" | "mem" | "json", err: (s: string) => void): string {
  if (mmu.pagingMode === "off" && form !== "json") return "PG disabled\n";
  const walk = pageLeaves(mmu);
  if (walk.truncated) err(`x86mmu map: note: the walk stopped after ${walk.leaves.length} leaves (self-referencing tables?); the map is incomplete\n`);
  if (walk.invalid.length) {
    err(`x86mmu map: note: ${walk.invalid.length} present entr${walk.invalid.length === 1 ? "y sets" : "ies set"} reserved bits and map${walk.invalid.length === 1 ? "s" : ""} nothing (a walk through ${walk.invalid.length === 1 ? "it" : "them"} faults):\n`);
    for (const e of walk.invalid.slice(0, 10)) err(`  ${e.levelName}E at ${hex(e.entryAddr)} = ${hex(e.entry)} (linear ${hex(e.va)}): ${e.reason}\n`);
    if (walk.invalid.length > 10) err(`  ... and ${walk.invalid.length - 10} more\n`);
  }
  if (form === "json") return walk.leaves.length === 0 ? "[]\n" : "[\n" + walk.leaves.map(PAGE_KEYS).join(",\n") + "\n]\n";
  const lines = form === "mem" ? qemuMemLines(walk) : qemuTlbLines(walk);
  return lines.map((l) => l + "\n").join("");
}

/** The registers: --registers FILE, then the register options over it, over long-mode defaults. */
function registersOf(values: Record<string, string | boolean | undefined>): CpuState {
  let base: Partial<CpuState> = {};
  if (typeof values.registers === "string") {
    const bytes = readMaybeCompressed(values.registers);
    try {
      base = parseRegistersText(new TextDecoder().decode(bytes));
    } catch (e) {
      if (e instanceof X86MmuError) throw new UsageError(`${values.registers}: ${e.message}`);
      throw e;
    }
  }
  const reg = (k: string): bigint | undefined => (typeof values[k] === "string" ? num(values[k] as string, `--${k}`) : undefined);
  const cr3 = reg("cr3") ?? base.cr3;
  if (cr3 === undefined) throw new UsageError("--image needs the registers: --registers FILE or at least --cr3");
  const state: CpuState = {
    cr0: reg("cr0") ?? base.cr0 ?? LONG_MODE.cr0,
    cr3,
    cr4: reg("cr4") ?? base.cr4 ?? LONG_MODE.cr4,
    efer: reg("efer") ?? base.efer ?? LONG_MODE.efer,
  };
  const pkru = reg("pkru") ?? (base.pkru === undefined ? undefined : BigInt(base.pkru));
  const pkrs = reg("pkrs") ?? (base.pkrs === undefined ? undefined : BigInt(base.pkrs));
  const phys = reg("maxphyaddr") ?? (base.maxPhyAddr === undefined ? undefined : BigInt(base.maxPhyAddr));
  if (pkru !== undefined) state.pkru = Number(BigInt.asUintN(53, pkru));
  if (pkrs !== undefined) state.pkrs = Number(BigInt.asUintN(53, pkrs));
  if (phys !== undefined) state.maxPhyAddr = Number(BigInt.asUintN(53, phys));
  return state;
}

/**
 * An Mmu holding `image` (bytes of a memory image) with registers `cpu`:
 * MAXPHYADDR first, then the image, then the registers (a PAE state loads
 * its PDPTEs from the image).
 */
export function machineFromImage(image: Uint8Array, cpu: CpuState, options: { format?: ImageFormat | "auto"; base?: bigint } = {}): Mmu {
  const mmu = new Mmu();
  if (cpu.maxPhyAddr !== undefined) mmu.maxPhyAddr = cpu.maxPhyAddr;
  loadImage(mmu.memory, image, options);
  mmu.loadState(cpu);
  return mmu;
}

export function mapCommand(argv: string[], help: string, out: (s: string) => void, err: (s: string) => void): number {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, strict: true }));
  } catch (e) {
    const msg = (e as Error).message;
    const opt = /'(-[^']+)'/.exec(msg)?.[1]?.split(" ")[0];
    const code = (e as { code?: string }).code;
    err(
      `x86mmu map: ${
        code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && opt
          ? `unknown option ${opt} (x86mmu --help lists map's options)`
          : code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && opt
            ? `option ${opt} ${/does not take/.test(msg) ? "takes no value" : "needs a value"}`
            : msg.replace(/'/g, "")
      }\n`,
    );
    return 2;
  }
  if (values.help) {
    out(help + "\n");
    return 0;
  }
  const form = values.json ? "json" : values.mem ? "mem" : "tlb";
  try {
    if (values.json && values.mem) throw new UsageError("--mem and --json are two output forms: give one");
    const imageOnly = ["registers", "format", "base", "cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr"].filter((k) => values[k] !== undefined);
    if (values.image === undefined) {
      if (imageOnly.length) throw new UsageError(`--${imageOnly[0]} goes with --image (a scenario FILE has its own cpu)`);
      if (positionals.length !== 1) throw new UsageError("give one scenario FILE, or --image IMAGE with --registers FILE or --cr3 ...");
      return mapScenarios(positionals[0]!, form, out, err);
    }
    if (positionals.length) throw new UsageError(`give a scenario FILE or --image, not both ("${positionals[0]}")`);
    const format = (values.format as string | undefined) ?? "auto";
    if (!["auto", "sparse", "raw", "elf"].includes(format)) throw new UsageError(`--format must be auto, sparse, raw or elf, not "${format}"`);
    const base = values.base === undefined ? undefined : num(values.base as string, "--base");
    const cpu = registersOf(values);
    const image = readMaybeCompressed(values.image as string);
    let mmu: Mmu;
    try {
      mmu = machineFromImage(image, cpu, { format: format as ImageFormat | "auto", base });
    } catch (e) {
      if (e instanceof X86MmuError) {
        err(`x86mmu map: ${values.image}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    out(render(mmu, form, err));
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof FileError) {
      err(`x86mmu map: ${e.message}\n`);
      return 2;
    }
    if (e instanceof X86MmuError) {
      err(`x86mmu map: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function mapScenarios(file: string, form: "tlb" | "mem" | "json", out: (s: string) => void, err: (s: string) => void): number {
  const items = [];
  try {
    for (const item of scenarioItems(file)) items.push(item);
  } catch (e) {
    throw new FileError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (items.length === 0) {
    err(`x86mmu map: ${file === "-" ? "stdin" : file} holds no scenario\n`);
    return 1;
  }
  let status = 0;
  const engine = new CoreEngine();
  for (const item of items) {
    if (item.error) {
      err(`x86mmu: ${item.error.message}\n`);
      status = 1;
      continue;
    }
    const s = item.scenario;
    if (s.cpu.npt) {
      err(`x86mmu map: scenario ${JSON.stringify(s.name)}: nested paging (cpu.npt) is not mapped: its guest tables are in guest-physical memory\n`);
      status = 1;
      continue;
    }
    try {
      engine.run({ ...s, accesses: [], sequence: undefined });
    } catch (e) {
      if (!(e instanceof X86MmuError)) throw e;
      err(`x86mmu: ${e instanceof ScenarioError ? "" : `scenario ${JSON.stringify(s.name)}: `}${e.message}\n`);
      status = 1;
      continue;
    }
    if (items.length > 1 && form !== "json") out(`# ${s.name || "(unnamed scenario)"}\n`);
    out(render(engine.mmu, form, err));
  }
  return status;
}

/** A CoreEngine whose Mmu holds the image of --image with the registers of --registers and the register options; an X86MmuError names what is wrong with the image or registers. */
function imageEngine(v: Record<string, string | boolean | undefined>): { engine: CoreEngine; format: ImageFormat; pages: number } {
  const cpu = registersOf(v);
  const image = readMaybeCompressed(v.image as string);
  const engine = new CoreEngine();
  const mmu = engine.mmu;
  if (cpu.maxPhyAddr !== undefined) mmu.maxPhyAddr = cpu.maxPhyAddr;
  const info = loadImage(mmu.memory, image);
  mmu.loadState(cpu);
  return { engine, format: info.format, pages: info.pagesWritten };
}

/** explain --image: each access explained on the image's tables. */
export function explainImage(
  values: Record<string, string | boolean | string[] | undefined>,
  accesses: Access[],
  st: ReturnType<typeof style>,
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  return withImage("explain", values, err, ({ engine, format, pages }) => {
    const mmu = engine.mmu;
    out(st.bold(`# ${values.image as string}: a ${format} image, ${pages} page(s) loaded; ${mmu.pagingMode} paging from CR3 ${hex(mmu.cr3)}`) + "\n");
    const s = mmu.state;
    out(`  CR0 ${hex(s.cr0)}  CR4 ${hex(s.cr4)}  EFER ${hex(s.efer)}  MAXPHYADDR ${s.maxPhyAddr}${s.pkru ? `  PKRU ${hex(s.pkru)}` : ""}\n\n`);
    for (const a of accesses) out(explainAccess(a, engine.access(a, true), mmu.state, st) + "\n\n");
  });
}

/**
 * run --image: the accesses performed one after another on the image's
 * tables, each after the format's TLB flush (and PDPTE load), printed as
 * `run` prints a scenario's result: `name` is the image's file name,
 * `memory` the 8-byte words the accesses changed (A/D flags, stored values).
 */
export function runImage(
  values: Record<string, string | boolean | string[] | undefined>,
  accesses: Access[],
  trace: boolean,
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  return withImage("run", values, err, ({ engine }) => {
    const mmu = engine.mmu;
    const cpu = mmu.state;
    // The words changed: the frames written, compared with their contents before (a snapshot keeps those).
    mmu.dirtyLog.start();
    const before = mmu.snapshot();
    const results = accesses.map((a) => engine.access(a, trace));
    const written = mmu.dirtyLog.frames();
    const now = written.map((pa) => new BigUint64Array(mmu.memory.readBytes(pa, 4096).buffer));
    mmu.restore(before);
    const memory: { paddr: bigint; value: bigint }[] = [];
    written.forEach((pa, k) => {
      const then = new BigUint64Array(mmu.memory.readBytes(pa, 4096).buffer);
      now[k]!.forEach((w, i) => {
        if (w !== then[i]) memory.push({ paddr: pa + BigInt(8 * i), value: w });
      });
    });
    const o = formatResult({ name: values.image as string, results, memory }, { trace }) as { results: Record<string, unknown>[] };
    if (trace) traceFacts(o, results, accesses, cpu);
    out(JSON.stringify(o, null, 2) + "\n");
  });
}

/** Loads the image for `command`, then runs `body`; usage and image errors reported as explain and map report them. */
function withImage(
  command: string,
  values: Record<string, string | boolean | string[] | undefined>,
  err: (s: string) => void,
  body: (loaded: ReturnType<typeof imageEngine>) => void,
): number {
  try {
    const v = values as Record<string, string | boolean | undefined>;
    let loaded;
    try {
      loaded = imageEngine(v);
    } catch (e) {
      if (e instanceof X86MmuError) {
        err(`x86mmu ${command}: ${v.image as string}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
    body(loaded);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof FileError || e instanceof X86MmuError) {
      err(`x86mmu ${command}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
