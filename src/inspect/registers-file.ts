/**
 * The registers of a saved machine state, read from what people and tools
 * write (docs/images.md):
 *
 * - a small JSON object `{ "cr0": "0x80050033", "cr3": "0x2a5a000",
 *   "cr4": "0x750ef0", "efer": "0xd01", "maxphyaddr": 40, "pkru": "0x0" }`
 *   (hex strings, decimal strings or safe-integer numbers; `maxphyaddr`,
 *   `maxPhyAddr`, `pkru` and `pkrs` optional);
 * - the Linux samples' JSON (test/fixtures/linux): its `registers` object,
 *   with MAXPHYADDR from `facts` ("address sizes : 40 bits physical", as
 *   /proc/cpuinfo says it), or from its `info_registers` text;
 * - the text QEMU's monitor prints for `info registers` (CR0=... CR3=...
 *   CR4=... EFER=...), which gives no MAXPHYADDR.
 *
 * What is absent keeps the Mmu's default (MAXPHYADDR 52, PKRU and PKRS 0).
 */

import { ArgumentError } from "../base/index.js";
import type { CpuState } from "../mmu/index.js";

const REQUIRED = ["cr0", "cr3", "cr4", "efer"] as const;

function value(v: unknown, where: string): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string" && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim())) {
    const n = BigInt(v.trim());
    if (n < 1n << 64n) return n;
  }
  throw new ArgumentError(`registers: ${where} ${JSON.stringify(v)} is not a 64-bit value (a 0x-hex or decimal string, or a number)`);
}

function small(v: unknown, where: string, max: bigint): number {
  const n = value(v, where);
  if (n > max) throw new ArgumentError(`registers: ${where} ${JSON.stringify(v)} is above ${max}`);
  return Number(n);
}

/** MAXPHYADDR from /proc/cpuinfo's "address sizes : N bits physical" in any of `facts`. */
function physBitsOf(facts: unknown): number | undefined {
  if (!Array.isArray(facts)) return undefined;
  for (const f of facts) {
    const m = typeof f === "string" ? /address sizes\s*:\s*(\d+) bits physical/.exec(f) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

/**
 * The registers in QEMU's `info registers` text, or undefined when `text`
 * does not hold CR0, CR3, CR4 and EFER as QEMU prints them.
 */
export function registersFromQemuText(text: string): CpuState | undefined {
  const get = (name: string): bigint | undefined => {
    const m = new RegExp(`(?:^|\\s)${name}=([0-9a-fA-F]+)\\b`).exec(text);
    return m ? BigInt("0x" + m[1]) : undefined;
  };
  const [cr0, cr3, cr4, efer] = ["CR0", "CR3", "CR4", "EFER"].map(get);
  if (cr0 === undefined || cr3 === undefined || cr4 === undefined || efer === undefined) return undefined;
  return { cr0, cr3, cr4, efer };
}

/**
 * The registers of a parsed JSON value (the forms in the module comment).
 * Throws ArgumentError naming the field that is missing or malformed.
 */
export function parseRegisters(json: unknown): CpuState {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ArgumentError("registers: expected a JSON object with cr0, cr3, cr4 and efer");
  const top = json as Record<string, unknown>;
  let regs = top;
  let where = "";
  if (typeof top.registers === "object" && top.registers !== null) {
    regs = top.registers as Record<string, unknown>;
    where = "registers.";
  } else if (top.cr3 === undefined && typeof top.info_registers === "string") {
    const fromText = registersFromQemuText(top.info_registers);
    if (fromText) regs = Object.fromEntries(Object.entries(fromText).map(([k, v]) => [k, "0x" + (v as bigint).toString(16)]));
  }
  const missing = REQUIRED.filter((k) => regs[k] === undefined);
  if (missing.length) throw new ArgumentError(`registers: ${missing.map((k) => where + k).join(", ")} missing (give cr0, cr3, cr4 and efer as 0x-hex strings)`);
  const state: CpuState = { cr0: value(regs.cr0, where + "cr0"), cr3: value(regs.cr3, where + "cr3"), cr4: value(regs.cr4, where + "cr4"), efer: value(regs.efer, where + "efer") };
  for (const k of ["pkru", "pkrs"] as const) {
    const v = regs[k] ?? top[k];
    if (v !== undefined) state[k] = small(v, k, 0xffffffffn);
  }
  const phys = top.maxphyaddr ?? top.maxPhyAddr ?? regs.maxphyaddr ?? regs.maxPhyAddr;
  if (phys !== undefined) state.maxPhyAddr = small(phys, "maxphyaddr", 64n);
  else {
    const fromFacts = physBitsOf(top.facts);
    if (fromFacts !== undefined) state.maxPhyAddr = fromFacts;
  }
  return state;
}

/**
 * The registers in a file's text: JSON (parseRegisters), or QEMU's
 * `info registers` output. Throws ArgumentError when it is neither.
 */
export function parseRegistersText(text: string): CpuState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const q = registersFromQemuText(text);
    if (q) return q;
    throw new ArgumentError("registers: neither JSON ({cr0, cr3, cr4, efer, maxphyaddr?}) nor QEMU's info registers text (CR0=... CR3=... CR4=... EFER=...)");
  }
  return parseRegisters(json);
}
