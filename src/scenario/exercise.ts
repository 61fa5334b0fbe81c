/**
 * Exercises on page tables (issue 16 part 3; `x86mmu exercise`), as OSTEP's
 * paging-multilevel-translate.py makes them: from a seed, a machine state
 * (registers, real page tables in memory) and a list of accesses whose
 * physical address or fault the student works out. Mostly successful
 * translations, with faults planted per topic (permissions, large pages,
 * protection keys, SMAP/SMEP, NX, CR0.WP, reserved bits, A/D, canonical
 * addresses). The generator only builds the scenario: its answers are what
 * an engine gives (CoreEngine, as `x86mmu run`), never its own prediction.
 *
 * Deterministic: a mulberry32 PRNG seeded by the seed, no Math.random; the
 * exercises are generated in order from one stream, so the first K of a
 * `count` of K+1 are the same K.
 */

import { hex } from "./format.js";
import { parseScenario } from "./parse.js";
import type { Access, Scenario } from "./types.js";

export type ExerciseMode = "32-bit" | "pae" | "4-level" | "5-level";
export const EXERCISE_MODES: readonly ExerciseMode[] = ["32-bit", "pae", "4-level", "5-level"];
export type ExerciseTopic = "perm" | "large" | "pk" | "smap" | "smep" | "nx" | "wp" | "rsvd" | "ad" | "canon";
export const EXERCISE_TOPICS: readonly ExerciseTopic[] = ["perm", "large", "pk", "smap", "smep", "nx", "wp", "rsvd", "ad", "canon"];

/** The topics a mode cannot plant, with the reason (protection keys and canonical addresses are long mode's; 32-bit entries have no XD bit). */
export function topicUnavailable(topic: ExerciseTopic, mode: ExerciseMode): string | undefined {
  const long = mode === "4-level" || mode === "5-level";
  if (topic === "pk" && !long) return "protection keys exist in 4-level and 5-level paging only";
  if (topic === "canon" && !long) return "canonical addresses are a long-mode rule (4-level and 5-level paging)";
  if (topic === "nx" && mode === "32-bit") return "32-bit paging entries have no execute-disable bit";
  return undefined;
}

/** The topics of a mode when none are asked for: all it can plant. */
export function topicsOf(mode: ExerciseMode): ExerciseTopic[] {
  return EXERCISE_TOPICS.filter((t) => topicUnavailable(t, mode) === undefined);
}

export interface ExerciseOptions {
  /** The seed, 0..2^32-1. */
  seed: number;
  /** How many exercises (default 1). */
  count?: number;
  /** Default 4-level. */
  mode?: ExerciseMode;
  /** Default: every topic the mode can plant. */
  topics?: ExerciseTopic[];
}

/** One table page as the exercise shows it: only its non-zero entries. */
export interface ExerciseTable {
  /** "PML5", "PML4", "PDPT", "PD", "PT" (PAE: "PDPT", "PD", "PT"; 32-bit: "PD", "PT"). */
  level: string;
  paddr: bigint;
  /** 8, or 4 with 32-bit paging. */
  entryBytes: 4 | 8;
  entries: { index: number; value: bigint }[];
}

export interface Exercise {
  /** 1-based, in the seed's stream. */
  number: number;
  seed: number;
  mode: ExerciseMode;
  /** The topics planted in this exercise (a subset of those asked for). */
  topics: ExerciseTopic[];
  /** The scenario-format JSON object (docs/scenario-format.md): what `x86mmu run` runs. */
  json: { name: string; cpu: Record<string, string | number>; memory: { paddr: string; qwords: string[] }[]; accesses: Record<string, string | number | boolean>[] };
  /** The same, parsed. */
  scenario: Scenario;
  /** The tables, top level first (the order a walk meets them), then by address. */
  tables: ExerciseTable[];
}

// ---- The PRNG ----

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same stream on every platform. */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }
}

// ---- Entry bits ----

const P = 1n, RW = 2n, US = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, G = 0x100n;
const XD = 1n << 63n;
const bitOf = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** The geometry of a mode: level names, the shift of each level's index, its width, and which levels may hold a leaf (and of what size). */
interface Geometry {
  names: string[];
  shifts: number[];
  widths: number[];
  entryBytes: 4 | 8;
  /** Leaf size in bytes by level index (the last level always holds 4 KiB pages). */
  large: Map<number, bigint>;
  long: boolean;
  vaBits: number;
}

function geometry(mode: ExerciseMode): Geometry {
  if (mode === "32-bit") return { names: ["PD", "PT"], shifts: [22, 12], widths: [10, 10], entryBytes: 4, large: new Map([[0, 0x400000n]]), long: false, vaBits: 32 };
  if (mode === "pae") return { names: ["PDPT", "PD", "PT"], shifts: [30, 21, 12], widths: [2, 9, 9], entryBytes: 8, large: new Map([[1, 0x200000n]]), long: false, vaBits: 32 };
  const five = mode === "5-level";
  const names = five ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  const n = names.length;
  return {
    names,
    shifts: names.map((_, i) => 12 + 9 * (n - 1 - i)),
    widths: names.map(() => 9),
    entryBytes: 8,
    large: new Map([[n - 2, 0x200000n], [n - 3, 0x40000000n]]),
    long: true,
    vaBits: five ? 57 : 48,
  };
}

interface Table {
  level: number;
  paddr: bigint;
  entries: Map<number, bigint>;
}

interface Mapping {
  user: boolean;
  /** Table and index at each level down to the leaf. */
  path: { table: Table; index: number }[];
  /** The page's linear base (canonical) and size. */
  va: bigint;
  size: bigint;
  pa: bigint;
}

/** The effective rights of a mapping, from the entries its walk reads (SDM 4.6). */
interface Rights {
  rw: boolean;
  us: boolean;
  xd: boolean;
  pkey: number;
  /** A reserved bit is set in some entry of the walk. */
  broken: boolean;
  leaf: bigint;
}

interface Regs {
  wp: boolean;
  nxe: boolean;
  smep: boolean;
  smap: boolean;
  pke: boolean;
  pse: boolean;
  pge: boolean;
  pkru: number;
  maxphyaddr: number;
}

/** Generates `count` exercises from `seed` (see the file's header). */
export function generateExercises(options: ExerciseOptions): Exercise[] {
  const mode = options.mode ?? "4-level";
  const topics = options.topics ?? topicsOf(mode);
  for (const t of topics) {
    const why = topicUnavailable(t, mode);
    if (why) throw new RangeError(`topic ${t}: ${why}`);
  }
  if (topics.length === 0) throw new RangeError("no topic");
  const rng = new Rng(options.seed);
  const out: Exercise[] = [];
  for (let k = 1; k <= (options.count ?? 1); k++) out.push(generateOne(rng, options.seed, k, mode, topics));
  return out;
}

function generateOne(rng: Rng, seed: number, number: number, mode: ExerciseMode, asked: readonly ExerciseTopic[]): Exercise {
  const geo = geometry(mode);
  const nLevels = geo.names.length;
  // This exercise's topics: all of them when one to three are asked for, else two or three at random.
  const topics = asked.length <= 3 ? [...asked] : rng.shuffle([...asked]).slice(0, rng.int(2, 3));
  const has = (t: ExerciseTopic) => topics.includes(t);
  // Where the rsvd topic puts its reserved bit: a physical-address bit at or above MAXPHYADDR, PS in the
  // top-level entry, a low bit of a large page's frame, XD with EFER.NXE=0 (then no other entry carries
  // XD), or bit 21 of a 4 MiB PDE (32-bit paging).
  let rsvdKind = has("rsvd") ? rng.pick(geo.long ? ["phys", "phys", "ps-top", "large-low", "xd"] : mode === "pae" ? ["phys", "xd", "large-low"] : ["pse"]) : undefined;
  if (rsvdKind === "xd" && has("nx")) rsvdKind = "phys";
  const regs: Regs = {
    wp: has("wp") ? rng.chance(0.75) : true,
    nxe: mode === "32-bit" ? false : rsvdKind === "xd" ? false : has("nx") || rng.chance(0.85),
    smep: has("smep") || (mode !== "32-bit" && rng.chance(0.4)),
    smap: has("smap") || (mode !== "32-bit" && rng.chance(0.4)),
    pke: has("pk"),
    pse: mode === "32-bit" ? has("large") || rsvdKind === "pse" || rng.chance(0.3) : false,
    pge: rng.chance(0.5),
    pkru: 0,
    maxphyaddr: mode === "32-bit" ? rng.pick([36, 40]) : rng.pick([36, 39, 40, 46, 52]),
  };
  if (rsvdKind === "phys" && regs.maxphyaddr === 52) regs.maxphyaddr = rng.pick([36, 40, 46]);
  const largeWanted = has("large") || rsvdKind === "large-low" || rsvdKind === "pse";

  // Physical frames: tables low, 4 KiB data frames above them, large frames higher still; all distinct.
  const used = new Set<bigint>();
  const frame = (lo: bigint, hi: bigint, align: bigint): bigint => {
    for (;;) {
      const f = (lo + BigInt(rng.int(0, Number((hi - lo) / align))) * align);
      if (!used.has(f)) {
        used.add(f);
        return f;
      }
    }
  };
  const tableFrame = () => frame(0x1000n, 0x7f000n, 0x1000n);
  const dataFrame = (size: bigint): bigint =>
    size === 0x1000n ? frame(0x80000n, 0xfff000n, 0x1000n)
      : size === 0x200000n ? frame(0x1000000n, 0x3fe00000n, 0x200000n)
        : size === 0x400000n ? frame(0x1000000n, 0xffc00000n, 0x400000n)
          : frame(0x40000000n, 0x3c0000000n, 0x40000000n);

  const tables: Table[] = [];
  const newTable = (level: number): Table => {
    const t = { level, paddr: tableFrame(), entries: new Map<number, bigint>() };
    tables.push(t);
    return t;
  };
  const root = newTable(0);
  let cr3 = root.paddr;
  if (mode === "pae" && rng.chance(0.4)) cr3 += 0x20n * BigInt(rng.int(1, 127)); // the PDPT is 32-byte aligned anywhere in its page
  root.paddr = cr3;
  const tableEntry = (t: Table, user: boolean): bigint => (mode === "pae" && t.level === 1 ? t.paddr | P : t.paddr | P | RW | (user ? US : 0n) | (has("ad") ? (rng.chance(0.5) ? A : 0n) : A));

  // The linear addresses of each half: user below, supervisor above (long mode: the upper half; else above 3 GiB).
  const topIndex = (user: boolean): number => {
    const w = geo.widths[0]!;
    if (mode === "pae") return user ? rng.int(0, 2) : 3;
    if (mode === "32-bit") return user ? rng.pick([1, 2, rng.int(0, 0x2ff)]) : rng.int(0x300, 0x3ff);
    const half = 1 << (w - 1);
    return user ? rng.pick([0, 0, 1, rng.int(0, half - 1)]) : rng.pick([half, (1 << w) - 1, (1 << w) - 1, rng.int(half, (1 << w) - 1)]);
  };
  const canonical = (va: bigint): bigint => (geo.long && bitOf(va, geo.vaBits - 1) ? va | (((1n << 64n) - 1n) ^ ((1n << BigInt(geo.vaBits)) - 1n)) : va);

  const mappings: Mapping[] = [];
  /** Maps one page: the leaf at `leafLevel`, sharing the upper path of `like` down to `share` levels. */
  const addMapping = (user: boolean, leafLevel: number, like?: Mapping, share = 0): Mapping | undefined => {
    const idx: number[] = [];
    for (let l = 0; l <= leafLevel; l++) {
      if (like && l < share && like.path.length > l) idx.push(like.path[l]!.index);
      else if (l === 0) idx.push(topIndex(user));
      else idx.push(rng.pick([0, 1, rng.int(0, (1 << geo.widths[l]!) - 1), rng.int(0, (1 << geo.widths[l]!) - 1)]));
    }
    // Walk down, creating the tables that are missing; refuse a path through a large page or onto a used slot.
    let t = root;
    const path: { table: Table; index: number }[] = [];
    for (let l = 0; l < leafLevel; l++) {
      const e = t.entries.get(idx[l]!);
      let child: Table | undefined;
      if (e === undefined) {
        child = newTable(l + 1);
        t.entries.set(idx[l]!, tableEntry(child, user));
      } else {
        child = tables.find((x) => x.level === l + 1 && (x.paddr & ~0xfffn) === (e & 0xffffffffff000n));
        if (!child) return undefined;
      }
      path.push({ table: t, index: idx[l]! });
      t = child;
    }
    if (t.entries.has(idx[leafLevel]!)) return undefined;
    path.push({ table: t, index: idx[leafLevel]! });
    const size = leafLevel === nLevels - 1 ? 0x1000n : geo.large.get(leafLevel)!;
    const pa = dataFrame(size);
    let va = 0n;
    idx.forEach((x, l) => (va |= BigInt(x) << BigInt(geo.shifts[l]!)));
    let leaf = pa | P;
    if (size !== 0x1000n) leaf |= PS;
    if (user) leaf |= US;
    leaf |= rng.chance(0.7) ? RW : 0n;
    if (regs.nxe && rng.chance(0.5)) leaf |= XD;
    if (!user && regs.pge && rng.chance(0.6)) leaf |= G;
    if (has("ad")) {
      if (rng.chance(0.5)) leaf |= A | (rng.chance(0.5) ? D : 0n);
    } else leaf |= A | ((leaf & RW) !== 0n ? D : 0n);
    t.entries.set(idx[leafLevel]!, leaf);
    const m: Mapping = { user, path, va: canonical(va), size, pa };
    mappings.push(m);
    return m;
  };

  // The mappings: three to five pages, at least one user and one supervisor page.
  const count = rng.int(3, 5);
  const sizes = [...geo.large.keys()];
  for (let i = 0, tries = 0; i < count && tries < 100; tries++) {
    const user = i === 0 ? true : i === 1 ? false : rng.chance(0.6);
    const large = largeWanted && sizes.length > 0 && (i === 2 || rng.chance(0.3)) && (mode !== "32-bit" || regs.pse);
    const leafLevel = large ? rng.pick(sizes) : nLevels - 1;
    const mates = mappings.filter((m) => m.user === user);
    // Mostly under tables already there (a few tables, as a real address space has).
    const like = mates.length && rng.chance(0.85) ? rng.pick(mates) : undefined;
    const most = like ? Math.min(leafLevel, like.path.length - 1) : 0;
    if (addMapping(user, leafLevel, like, most > 0 ? (rng.chance(0.5) ? most : rng.int(1, most)) : 0)) i++;
  }
  if (largeWanted && !mappings.some((m) => m.size !== 0x1000n) && (mode !== "32-bit" || regs.pse)) {
    for (let tries = 0; tries < 50 && !addMapping(rng.chance(0.5), rng.pick(sizes)); tries++);
  }

  const leafOf = (m: Mapping) => m.path[m.path.length - 1]!;
  const get = (s: { table: Table; index: number }) => s.table.entries.get(s.index)!;
  const set = (s: { table: Table; index: number }, v: bigint) => s.table.entries.set(s.index, v);
  const broken = new Set<string>();
  const key = (s: { table: Table; index: number }) => `${s.table.paddr}:${s.index}`;

  // Topic tweaks of the entries.
  const forced: Partial<Record<ExerciseTopic, Mapping>> = {};
  if (has("perm") && rng.chance(0.5)) {
    // R/W=0 or U/S=0 above the leaf: the restriction holds for every page below that entry.
    const m = rng.pick(mappings.filter((x) => x.user && x.path.length > 1));
    if (m) {
      const lvl = rng.int(mode === "pae" ? 1 : 0, m.path.length - 2);
      if (lvl < m.path.length - 1) set(m.path[lvl]!, get(m.path[lvl]!) & ~(rng.chance(0.5) ? RW : US));
    }
  }
  if (has("wp")) {
    const m = rng.pick(mappings.filter((x) => !x.user));
    if (m) set(leafOf(m), get(leafOf(m)) & ~RW), (forced.wp = m);
  }
  if (has("smep") || has("smap")) {
    const m = rng.pick(mappings.filter((x) => x.user));
    if (m && has("smep")) set(leafOf(m), get(leafOf(m)) & ~XD), (forced.smep = m);
    if (m) forced.smap = m;
  }
  if (has("nx")) {
    const m = rng.pick(mappings);
    const s = rng.chance(0.7) || m.path.length < 2 ? leafOf(m) : m.path[rng.int(mode === "pae" ? 1 : 0, m.path.length - 2)]!;
    set(s, get(s) | XD);
    forced.nx = m;
  }
  if (has("pk")) {
    // User pages get keys; PKRU denies access (AD) or writes (WD) to one of them.
    const users = mappings.filter((x) => x.user);
    const keys = rng.shuffle([...Array(15).keys()].map((x) => x + 1));
    users.forEach((m, i) => {
      const k = i === 0 || rng.chance(0.5) ? keys[i]! : 0;
      set(leafOf(m), (get(leafOf(m)) & ~(0xfn << 59n)) | (BigInt(k) << 59n));
    });
    const m = users[0]!;
    const k = keys[0]!;
    regs.pkru = (rng.chance(0.5) ? 1 : 2) << (2 * k);
    // A distractor key or two, used by no page.
    for (const d of keys.slice(users.length, users.length + rng.int(1, 2))) regs.pkru |= rng.pick([1, 2, 3]) << (2 * d);
    regs.pkru >>>= 0;
    forced.pk = m;
  }
  if (has("ad")) {
    // A writable page that is not yet dirty, for a write to dirty (not one another topic set up).
    const free = mappings.filter((x) => !Object.values(forced).includes(x));
    const m = rng.pick(free.length ? free : mappings);
    set(leafOf(m), (get(leafOf(m)) | RW) & ~D & ~XD);
    forced.ad = m;
  }
  if (rsvdKind) {
    const cands = rsvdKind === "large-low" || rsvdKind === "pse" ? mappings.filter((m) => m.size !== 0x1000n) : mappings;
    const m = cands.length ? rng.pick(cands) : rng.pick(mappings);
    let s = rng.chance(0.6) ? leafOf(m) : rng.pick(m.path.slice(mode === "pae" ? 1 : 0));
    let bit: bigint;
    if (rsvdKind === "phys") bit = 1n << BigInt(rng.int(regs.maxphyaddr, 51));
    else if (rsvdKind === "xd") bit = XD;
    else if (rsvdKind === "ps-top") (s = m.path[0]!), (bit = PS);
    else if (m.size === 0x1000n) {
      // No large page to plant in: a physical-address bit beyond MAXPHYADDR, or PS in the top entry.
      s = leafOf(m);
      if (mode === "pae") bit = 1n << BigInt(rng.int(regs.maxphyaddr, 62));
      else if (geo.long && regs.maxphyaddr < 52) bit = 1n << BigInt(rng.int(regs.maxphyaddr, 51));
      else if (geo.long) (s = m.path[0]!), (bit = PS);
      else bit = 0n;
    }
    else if (mode === "32-bit") (s = leafOf(m)), (bit = 1n << 21n);
    else (s = leafOf(m)), (bit = 1n << BigInt(rng.int(13, m.size === 0x200000n ? 20 : 29)));
    if (mode === "pae" && bit >= 1n << 52n && bit !== XD) bit = 1n << BigInt(rng.int(regs.maxphyaddr, 62)); // PAE: 62:MAXPHYADDR
    if (bit !== 0n) {
      set(s, get(s) | bit);
      broken.add(key(s));
      forced.rsvd = m;
    }
  }
  if (!regs.nxe) for (const t of tables) for (const [i, v] of t.entries) if (bitOf(v, 63) && !broken.has(`${t.paddr}:${i}`)) t.entries.set(i, v & ~XD);

  // Distractor entries: present ones pointing to frames no access reaches, and not-present ones.
  for (const t of tables) {
    const n = t === root ? rng.int(1, 2) : rng.chance(0.5) ? 1 : 0;
    for (let j = 0; j < n; j++) {
      const width = geo.widths[t.level]!;
      const i = rng.int(0, (1 << width) - 1);
      if (t.entries.has(i)) continue;
      if (rng.chance(0.3)) {
        t.entries.set(i, (BigInt(rng.int(1, 0xfffff)) << 12n) | BigInt(rng.int(0, 7) * 2)); // P=0: the other bits mean nothing
      } else if (mode === "pae" && t.level === 0) {
        t.entries.set(i, tableFrame() | P);
      } else {
        const leafSize = t.level === nLevels - 1 ? 0x1000n : undefined;
        const f = leafSize ? dataFrame(0x1000n) : tableFrame();
        let v = f | P | (rng.chance(0.7) ? RW : 0n) | (rng.chance(0.5) ? US : 0n) | (rng.chance(0.5) ? A : 0n);
        if (leafSize && (v & A) !== 0n && rng.chance(0.5)) v |= D;
        if (regs.nxe && rng.chance(0.3)) v |= XD;
        t.entries.set(i, v);
      }
    }
  }

  // ---- The rights of each mapping, from the entries as they now are ----
  const rightsOf = (m: Mapping): Rights => {
    const r: Rights = { rw: true, us: true, xd: false, pkey: 0, broken: false, leaf: get(leafOf(m)) };
    m.path.forEach((s, l) => {
      const e = get(s);
      if (broken.has(key(s))) r.broken = true;
      if (mode === "pae" && l === 0) return;
      if ((e & RW) === 0n) r.rw = false;
      if ((e & US) === 0n) r.us = false;
      if (regs.nxe && bitOf(e, 63)) r.xd = true;
    });
    r.pkey = geo.long ? Number((r.leaf >> 59n) & 0xfn) : 0;
    return r;
  };
  const allowed = (m: Mapping, a: { op: string; cpl: number; ac: boolean }): boolean => {
    const r = rightsOf(m);
    if (r.broken) return false;
    const write = a.op === "write", fetch = a.op === "fetch";
    if (a.cpl === 3) {
      if (!r.us) return false;
      if (write && !r.rw) return false;
      if (fetch && r.xd) return false;
    } else {
      if (fetch && (r.xd || (regs.smep && r.us))) return false;
      if (!fetch && regs.smap && r.us && !a.ac) return false;
      if (write && regs.wp && !r.rw) return false;
    }
    if (regs.pke && r.us && !fetch && geo.long) {
      const ad = (regs.pkru >>> (2 * r.pkey)) & 1, wd = (regs.pkru >>> (2 * r.pkey + 1)) & 1;
      if (ad) return false;
      if (write && wd && (a.cpl === 3 || regs.wp)) return false;
    }
    return true;
  };

  // ---- The accesses ----
  interface Planned { va: bigint; op: "read" | "write" | "fetch"; size: number; cpl: number; ac: boolean }
  const accesses: Planned[] = [];
  const at = (m: Mapping, op: Planned["op"], cpl: number, ac = false): Planned => {
    const size = op === "fetch" ? 1 : rng.pick([1, 2, 4, 8, 8]);
    let off = BigInt(rng.int(0, 0xfff / size)) * BigInt(size);
    if (m.size > 0x1000n) off += BigInt(rng.int(0, Number(m.size / 0x1000n) - 1)) * 0x1000n;
    return { va: m.va + off, op, size, cpl, ac };
  };
  const anyAllowed = (m: Mapping): Planned | undefined => {
    const r = rightsOf(m);
    const cands: { op: Planned["op"]; cpl: number; ac: boolean }[] = [];
    for (const op of ["read", "read", "write", "fetch"] as const) {
      for (const cpl of r.us ? [3, 3, 0] : [0]) cands.push({ op, cpl, ac: cpl === 0 && r.us });
    }
    const ok = cands.filter((c) => allowed(m, c));
    if (!ok.length) return undefined;
    const c = rng.pick(ok);
    return at(m, c.op, c.cpl, c.ac);
  };
  // Successful ones: two to four pages.
  for (const m of rng.shuffle([...mappings]).slice(0, rng.int(2, 4))) {
    const a = anyAllowed(m);
    if (a) accesses.push(a);
  }
  const plant = (m: Mapping | undefined, op: Planned["op"], cpl: number, ac = false) => {
    if (m) accesses.push(at(m, op, cpl, ac));
  };
  for (const t of topics) {
    if (t === "perm") {
      const opts: [Mapping, Planned["op"]][] = [];
      for (const m of mappings) {
        const r = rightsOf(m);
        if (r.broken) continue;
        if (!r.us) opts.push([m, rng.pick(["read", "write", "fetch"] as const)]);
        else if (!r.rw) opts.push([m, "write"]);
      }
      if (opts.length) {
        const [m, op] = rng.pick(opts);
        plant(m, op, 3);
      }
    } else if (t === "wp") plant(forced.wp, "write", 0);
    else if (t === "smep") plant(forced.smep, "fetch", 0);
    else if (t === "smap") {
      const m = forced.smap;
      if (m) {
        const op = rng.pick(["read", "write"] as const);
        plant(m, rightsOf(m).rw ? op : "read", 0, false);
        if (rng.chance(0.5)) plant(m, "read", 0, true);
      }
    } else if (t === "nx") {
      const m = forced.nx;
      if (m) plant(m, "fetch", rightsOf(m).us ? 3 : 0);
    } else if (t === "pk") {
      const m = forced.pk;
      if (m) {
        const wd = ((regs.pkru >>> (2 * rightsOf(m).pkey)) & 2) !== 0;
        if (wd) plant(m, "read", 3);
        plant(m, wd && rightsOf(m).rw ? "write" : rng.pick(["read", "write"] as const), 3);
      }
    } else if (t === "rsvd") {
      const m = forced.rsvd;
      if (m) plant(m, "read", rightsOf(m).us ? 3 : 0);
    } else if (t === "ad") {
      const m = forced.ad;
      if (m) {
        const r = rightsOf(m);
        const cpl = r.us ? 3 : 0;
        if (allowed(m, { op: "write", cpl, ac: false })) plant(m, "write", cpl);
        else {
          const a = anyAllowed(m);
          if (a) accesses.push(a);
        }
      }
    } else if (t === "large") {
      const big = mappings.filter((m) => m.size !== 0x1000n && !rightsOf(m).broken);
      if (big.length) {
        const m = rng.pick(big);
        const r = rightsOf(m);
        // Half the time an access the page refuses, else one it allows.
        if (rng.chance(0.5) && (!r.us || !r.rw)) plant(m, !r.us ? "read" : "write", 3);
        else {
          const a = anyAllowed(m);
          if (a) accesses.push(a);
        }
      }
    } else if (t === "canon") {
      const m = rng.pick(mappings);
      const a = at(m, rng.pick(["read", "write", "fetch"] as const), m.user ? 3 : 0);
      // Flip one bit above the top index bit: the address is no longer a sign extension.
      const top = geo.vaBits - 1;
      a.va ^= 1n << BigInt(rng.int(top + 1, 63));
      accesses.push(a);
    }
  }
  // Sometimes an address nothing maps (a P=0 entry on the way).
  if (rng.chance(0.4)) {
    const m = rng.pick(mappings);
    const s = leafOf(m);
    const width = geo.widths[s.table.level]!;
    const free = [...Array(1 << width).keys()].filter((i) => !s.table.entries.has(i) || (s.table.entries.get(i)! & P) === 0n);
    const i = rng.pick(free.length > 64 ? free.filter((x) => Math.abs(x - s.index) < 4 || rng.chance(0.02)).concat(free.slice(0, 1)) : free);
    const shift = BigInt(geo.shifts[s.table.level]!);
    const base = canonical((m.va & ~(((1n << BigInt(geo.widths[s.table.level]!)) << shift) - 1n) & ((1n << BigInt(geo.vaBits)) - 1n)) | (BigInt(i) << shift));
    const stub: Mapping = { ...m, va: base };
    accesses.push(at(stub, rng.pick(["read", "write"] as const), m.user ? 3 : 0));
  }
  rng.shuffle(accesses);

  // ---- The scenario ----
  const cr0 = 0x80000033n | (regs.wp ? 0x10000n : 0n);
  let cr4 = 0n;
  if (mode !== "32-bit") cr4 |= 0x20n;
  if (regs.pse) cr4 |= 0x10n;
  if (regs.pge) cr4 |= 0x80n;
  if (mode === "5-level") cr4 |= 1n << 12n;
  if (regs.smep) cr4 |= 1n << 20n;
  if (regs.smap) cr4 |= 1n << 21n;
  if (regs.pke) cr4 |= 1n << 22n;
  let efer = geo.long ? 0x500n : 0n;
  if (regs.nxe) efer |= 0x800n;
  const words = new Map<bigint, bigint>();
  for (const t of tables) {
    for (const [i, v] of t.entries) {
      if (geo.entryBytes === 8) words.set(t.paddr + 8n * BigInt(i), v);
      else {
        const addr = t.paddr + 4n * BigInt(i);
        const q = addr & ~7n;
        const sh = (addr & 4n) * 8n;
        words.set(q, (words.get(q) ?? 0n) | ((v & 0xffffffffn) << sh));
      }
    }
  }
  const memory = [...words.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((p) => ({ paddr: hex(p), qwords: [hex(words.get(p)!)] }));
  const name = `exercise ${number} of seed ${seed} (${mode}; ${topics.join(", ")})`;
  const cpu: Record<string, string | number> = { cr0: hex(cr0), cr3: hex(cr3), cr4: hex(cr4), efer: hex(efer) };
  if (regs.pke) cpu.pkru = hex(BigInt(regs.pkru));
  cpu.maxphyaddr = regs.maxphyaddr;
  const json = {
    name,
    cpu,
    memory,
    accesses: accesses.map((a) => {
      const o: Record<string, string | number | boolean> = { va: hex(a.va & ((1n << 64n) - 1n)), op: a.op };
      if (a.op !== "fetch") o.size = a.size;
      o.cpl = a.cpl;
      if (a.cpl === 0 && a.ac) o.ac = true;
      if (a.op === "write") o.value = hex(writeValue(rng, a.size));
      return o;
    }),
  };
  const scenario = parseScenario(json, name);
  const shown: ExerciseTable[] = [...tables]
    .sort((a, b) => a.level - b.level || (a.paddr < b.paddr ? -1 : 1))
    .map((t) => ({
      level: geo.names[t.level]!,
      paddr: t.paddr,
      entryBytes: geo.entryBytes,
      entries: [...t.entries].filter(([, v]) => v !== 0n).sort((a, b) => a[0] - b[0]).map(([index, value]) => ({ index, value })),
    }));
  return { number, seed, mode, topics, json, scenario, tables: shown };
}

/** A value to write: a readable pattern of `size` bytes. */
function writeValue(rng: Rng, size: number): bigint {
  const byte = BigInt(rng.pick([0x11, 0x22, 0x5a, 0xab, 0xcd, 0xee, 0x42, 0x77]));
  let v = 0n;
  for (let i = 0; i < size; i++) v = (v << 8n) | (i === 0 ? byte : BigInt(rng.int(0, 255)));
  return v;
}

/** The accesses of an exercise in words, for the question: `read 8 bytes at 0x..., CPL 3`. */
export function exerciseAccessWords(a: Access, mode: ExerciseMode): string {
  const width = mode === "4-level" || mode === "5-level" ? 16 : 8;
  const va = "0x" + a.va.toString(16).padStart(width, "0");
  const what = a.op === "fetch" ? "fetch        " : `${a.op.padEnd(5)} ${a.size} byte${a.size === 1 ? " " : "s"}`;
  const value = a.op === "write" ? `, value ${hex(a.value)}` : "";
  const who = a.cpl === 3 ? "CPL 3" : `CPL 0, AC=${a.ac ? 1 : 0}`;
  return `${what} at ${va}, ${who}${value}`;
}
