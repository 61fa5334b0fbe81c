/**
 * Runs scenarios (docs/scenario-format.md) on the WebAssembly core through
 * the public `Mmu` API: this is what `x86mmu run` uses. One Mmu is reused;
 * each scenario starts from reset memory and a fully flushed TLB, and the TLB
 * is flushed again before every access, as the format prescribes.
 */

import { PAGE_SIZE, PTE_P_BIT, PFEC_RSVD, EFER_NXE_BIT, CR4_PSE_BIT, CR4_PCIDE_BIT } from "../arch/index.js";
import { encodeAccess } from "../mmu/index.js";
import { GeneralProtection, NestedPageFault, RegisterError, describeExitInfo1 } from "../base/index.js";
import { Mmu, type TlbEntry } from "../mmu/index.js";
import { Machine, type Invalidation } from "../machine/index.js";
import type { Access, AccessResult, Invalidate, MemoryChange, NestedGuestLevel, NestedWalk, Scenario, ScenarioEngine, ScenarioResult, StepResult, TlbStep, WalkStep } from "./types.js";
import { allowsOf, leafSizeOf, reservedBitsOf, denialReason, levelName, levelNumber, shapeOf, targetOf } from "../arch/index.js";
import { ScenarioError, isTlbStep } from "./parse.js";
import { X86MmuError } from "../base/index.js";

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** What one access did to the TLB (CoreEngine.run with keepTlb). */
export interface TlbEvent {
  /** Translations the TLB served, and lookups that walked (a page-crossing access makes two). */
  hits: number;
  misses: number;
  filled: TlbEntry[];
  evicted: TlbEntry[];
}

export class CoreEngine implements ScenarioEngine {
  readonly mmu = new Mmu();
  /** The CPU the item being run acts on: `mmu`, or one CPU of `machine` (several CPUs). */
  private cur: Mmu = this.mmu;
  /** For scenarios of several CPUs (the extension), one Machine per CPU count, reused. */
  private readonly machines = new Map<number, Machine>();

  /**
   * Runs a scenario. With `keepTlb` (explain --tlb) the TLB is not flushed
   * before each access, as the format otherwise prescribes: it starts empty
   * and keeps what each access fills, and every result says whether the
   * access hit and which entries it filled and evicted (`tlbEvents`).
   */
  run(scenario: Scenario, options?: { trace?: boolean; keepTlb?: boolean }): ScenarioResult {
    if (scenario.cpus !== undefined) return this.runOnCpus(scenario, scenario.cpus, options?.trace === true);
    const mmu = this.mmu;
    this.cur = mmu;
    const trace = options?.trace === true;
    this.keepTlb = options?.keepTlb === true;
    this.tlbEvents = [];
    mmu.memory.reset();
    mmu.exitGuest();
    try {
      mmu.loadState({ ...scenario.cpu, maxPhyAddr: scenario.cpu.maxphyaddr, pkru: Number(scenario.cpu.pkru), pkrs: Number(scenario.cpu.pkrs) });
    } catch (e) {
      if (e instanceof X86MmuError) throw new ScenarioError(scenario.name, "cpu", e.message);
      throw e;
    }
    const before = loadImage(mmu, scenario);
    const npt = scenario.cpu.npt;
    if (npt) {
      try {
        mmu.enterGuest({ ncr3: npt.ncr3, nxe: npt.nxe, asid: 1 }, 1);
      } catch (e) {
        if (e instanceof X86MmuError) throw new ScenarioError(scenario.name, "cpu.npt", e.message);
        throw e;
      }
    }
    try {
      if (scenario.sequence) {
        // The TLB extension: the TLB starts empty and is kept; steps change it as their instructions do.
        this.keepTlb = true;
        const results = scenario.sequence.map((item) => {
          if (isTlbStep(item)) return this.stepKeepingTlb(item);
          const r = this.access(item, trace);
          const ev = this.tlbEvents[this.tlbEvents.length - 1]!;
          if (ev.hits + ev.misses > 0) r.tlb = ev.misses === 0 ? "hit" : "miss";
          return r;
        });
        return { name: scenario.name, results, memory: changes(mmu, before) };
      }
      const results = scenario.accesses.map((a) => this.access(a, trace));
      return { name: scenario.name, results, memory: changes(mmu, before) };
    } finally {
      this.keepTlb = false;
      mmu.setTrace(false);
    }
  }

  /**
   * A scenario of several CPUs (the extension): every CPU starts from the
   * scenario's registers with an empty TLB; each item runs on its CPU, which
   * first performs the shootdowns posted to it (Machine does that at any
   * call), and keeps its own TLB.
   */
  private runOnCpus(scenario: Scenario, cpus: number, trace: boolean): ScenarioResult {
    let m = this.machines.get(cpus);
    if (!m) this.machines.set(cpus, (m = new Machine({ cpus })));
    m.pollAll(); // nothing of a previous scenario stays pending
    m.memory.reset();
    const state = { ...scenario.cpu, maxPhyAddr: scenario.cpu.maxphyaddr, pkru: Number(scenario.cpu.pkru), pkrs: Number(scenario.cpu.pkrs) };
    try {
      for (const c of m.cpus) c.mmu.loadState(state);
    } catch (e) {
      if (e instanceof X86MmuError) throw new ScenarioError(scenario.name, "cpu", e.message);
      throw e;
    }
    const cpu0 = m.cpu(0).mmu;
    const before = loadImage(cpu0, scenario);
    this.keepTlb = true;
    this.tlbEvents = [];
    try {
      const results = scenario.sequence!.map((item): AccessResult | StepResult => {
        const on = item.cpu ?? 0;
        this.cur = m.cpu(on).mmu;
        if (isTlbStep(item)) {
          if (item.step === "shootdown") {
            const r = this.watchTlb((): StepResult => {
              m.shootdown(item.targets, item.invalidations.map(invalidationOf));
              return { ok: true, step: "shootdown" };
            });
            return { ...r, cpu: on };
          }
          return { ...this.stepKeepingTlb(item), cpu: on };
        }
        const r = this.access(item, trace);
        const ev = this.tlbEvents[this.tlbEvents.length - 1]!;
        if (ev.hits + ev.misses > 0) r.tlb = ev.misses === 0 ? "hit" : "miss";
        r.cpu = on;
        return r;
      });
      return { name: scenario.name, results, memory: changes(cpu0, before) };
    } finally {
      this.keepTlb = false;
      for (const c of m.cpus) c.mmu.setTrace(false);
      this.cur = this.mmu;
    }
  }

  /**
   * Performs one access on the Mmu's current state, after flushing the TLB
   * (as the format does before every access); with `trace`, the result
   * carries the walk. The demo and `explain` use this directly.
   */
  access(a: Access, trace = false): AccessResult {
    return this.keepTlb ? this.accessKeepingTlb(a, trace) : this.perform(a, trace, true);
  }

  /** One access; with `flush`, after the format's TLB flush and PDPTE load. */
  private perform(a: Access, trace: boolean, flush: boolean): AccessResult {
    const mmu = this.cur;
    if (flush) mmu.flushTlb();
    if (flush && mmu.pagingMode === "pae") {
      // The format loads the PDPTE registers before every access (a MOV to
      // CR4 toggling PGE would): a reserved bit in a present one is #GP(0),
      // and the access changes nothing.
      try {
        mmu.reloadPdptes();
      } catch (e) {
        if (e instanceof RegisterError && e.code === "PDPTE_RESERVED") {
          const r: AccessResult = { ok: false, fault: "GP", errorCode: 0n };
          if (trace) r.walk = [];
          return r;
        }
        throw e;
      }
    }
    mmu.setTrace(trace);
    const options = { cpl: a.cpl, ac: a.ac };
    const t = mmu.tryTranslate(a.va, encodeAccess({ op: a.op, size: a.size, ...options }));
    let r: AccessResult;
    if (!t.ok) {
      const f = t.fault;
      r = f instanceof GeneralProtection
        ? { ok: false, fault: "GP", errorCode: 0n }
        : f instanceof NestedPageFault
          ? { ok: false, fault: "NPF", exitinfo1: f.exitinfo1, exitinfo2: f.exitinfo2 }
          : { ok: false, fault: "PF", errorCode: BigInt(f.errorCode), cr2: f.cr2 };
    } else if (a.op === "read") {
      r = { ok: true, pa: t.pa, value: mmu.read(a.va, a.size, options) };
    } else {
      if (a.op === "write") mmu.write(a.va, a.size, a.value, options);
      r = { ok: true, pa: t.pa };
    }
    if (trace) {
      r.walk = this.walkSteps(a, r);
      if (mmu.nested) this.nestedSteps(a, r);
    }
    return r;
  }

  /** With keepTlb: what each access did to the TLB, in order (see run). */
  tlbEvents: TlbEvent[] = [];
  private keepTlb = false;

  private accessKeepingTlb(a: Access, trace: boolean): AccessResult {
    return this.watchTlb(() => this.perform(a, trace, false));
  }

  /** A TLB step (the TLB extension), with its effect on the TLB recorded in tlbEvents. */
  private stepKeepingTlb(step: TlbStep): StepResult {
    return this.watchTlb(() => performStep(this.cur, step));
  }

  /** Runs `f` and records in tlbEvents what it did to the TLB. */
  private watchTlb<R>(f: () => R): R {
    const mmu = this.cur;
    const key = (e: TlbEntry) => `${e.slot}:${e.linear}:${e.pcid}:${e.asid}`;
    const before = new Map(mmu.tlbEntries().map((e) => [key(e), e]));
    const stats = mmu.tlbStats();
    const r = f();
    const after = new Map(mmu.tlbEntries().map((e) => [key(e), e]));
    const now = mmu.tlbStats();
    this.tlbEvents.push({
      misses: now.misses - stats.misses,
      hits: now.hits - stats.hits,
      filled: [...after].filter(([k]) => !before.has(k)).map(([, e]) => e),
      evicted: [...before].filter(([k]) => !after.has(k)).map(([, e]) => e),
    });
    return r;
  }

  /**
   * Under nested paging: weaves the nested walks the core recorded into the
   * trace (each guest entry after the nested walk of its address, the final
   * gPA's nested walk at the end of each page's walk) and groups them by
   * guest level in `nestedWalk`, as the format describes.
   */
  private nestedSteps(a: Access, r: AccessResult): void {
    const guest = r.walk ?? [];
    const raw = this.cur.takeNestedTrace();
    const hostNxe = this.cur.nested?.nxe ?? true;
    // One nested walk starts at each PML4 level.
    const walks: { tag: number; steps: WalkStep[] }[] = [];
    for (const n of raw) {
      if (n.level === 4 || walks.length === 0) walks.push({ tag: n.guestStep, steps: [] });
      walks[walks.length - 1]!.steps.push({
        level: levelName("long", n.level),
        table: n.table,
        index: n.index,
        entryAddr: n.table + 8n * BigInt(n.index),
        entry: n.entry,
        allows: allowsOf(n.entry, leafSizeOf(n.level, n.entry), hostNxe),
      });
    }
    const flat: WalkStep[] = [];
    const pages: NestedWalk[] = [];
    let page: NestedWalk | undefined;
    let pageIndex = -1;
    for (const w of walks) {
      if (w.tag >= 0) {
        const g = guest[w.tag];
        if (w.tag === 0 || (g && g.level === guest[0]!.level) || !page) {
          page = { levels: [] };
          pages.push(page);
          pageIndex++;
        }
        // No guest step: the nested walk of this guest entry's address faulted, and
        // EXITINFO2 is that address (the fault ends the trace, so this is its last walk).
        const gpa = g ? g.entryAddr : !r.ok && r.fault === "NPF" ? r.exitinfo2 : 0n;
        for (const s of w.steps) s.gpa = gpa;
        flat.push(...w.steps);
        const level: NestedGuestLevel = { gpa, nested: w.steps };
        if (g) {
          level.guest = g;
          flat.push(g);
        }
        page.levels.push(level);
      } else {
        if (!page) {
          page = { levels: [] };
          pages.push(page);
          pageIndex++;
        }
        const la = pageIndex === 0 ? a.va : (a.va & ~0xfffn) + 0x1000n;
        const leaf = page.levels[page.levels.length - 1]?.guest;
        const target = leaf ? targetOf(leaf.level, leaf.entry) : undefined;
        const size = target?.kind === "page" ? target.size : "4K";
        const low = size === "1G" ? 0x3fffffffn : size === "2M" ? 0x1fffffn : 0xfffn;
        const gpa = target ? target.paddr + (la & low) : la;
        for (const s of w.steps) s.gpa = gpa;
        flat.push(...w.steps);
        page.final = { gpa, nested: w.steps };
        page = undefined;
      }
    }
    if (!r.ok && r.fault === "NPF" && flat.length > 0) {
      const last = flat[flat.length - 1]!;
      last.stop = `nested page fault: ${describeExitInfo1(r.exitinfo1)} translating guest-physical ${"0x" + r.exitinfo2.toString(16)}`;
    }
    r.walk = flat;
    r.nestedWalk = pages;
  }

  /** The recorded walk levels in the trace's words (arch/rules.ts), with the stop reason on a faulting level. */
  private walkSteps(a: Access, r: AccessResult): WalkStep[] {
    const cpu = this.cur.state;
    const scpu = { ...cpu, maxphyaddr: cpu.maxPhyAddr, pkru: BigInt(cpu.pkru), pkrs: BigInt(cpu.pkrs) };
    const shape = shapeOf(cpu);
    const nxe = bit(cpu.efer, EFER_NXE_BIT) && shape !== "32-bit";
    const pse = bit(cpu.cr4, CR4_PSE_BIT);
    // 32-bit paging's entries are 4 bytes; every other walk's are 8.
    const width = shape === "32-bit" ? 4n : 8n;
    const steps: WalkStep[] = this.cur.takeTrace().map((s) => ({
      level: levelName(shape, s.level),
      table: s.table,
      index: s.index,
      entryAddr: s.table + width * BigInt(s.index),
      entry: s.entry,
      allows: allowsOf(s.entry, leafSizeOf(s.level, s.entry, shape, pse), nxe, !(shape === "pae" && s.level === 3)),
    }));
    if (r.ok || r.fault !== "PF" || steps.length === 0) return steps;
    const last = steps[steps.length - 1]!;
    const code = Number(r.errorCode);
    if (!bit(last.entry, PTE_P_BIT)) last.stop = "not present";
    else if ((code & PFEC_RSVD) !== 0) last.stop = reservedBitsOf(levelNumber(last.level), last.entry, scpu, shape);
    else {
      // The walk that faulted is the last one recorded: it starts at the last
      // top-level step (a page-crossing access walks twice).
      const top = steps[0]!.level;
      const walked = steps.slice(steps.map((s) => s.level).lastIndexOf(top));
      last.stop = denialReason(code, scpu, a, walked);
    }
    return steps;
  }
}

/** Writes the scenario's regions into memory; returns the initial image of every frame they touch. */
function loadImage(mmu: Mmu, scenario: Scenario): Map<bigint, BigUint64Array> {
  const image = new Map<bigint, BigUint64Array>();
  const frame = (pfn: bigint): BigUint64Array => {
    let f = image.get(pfn);
    if (!f) image.set(pfn, (f = new BigUint64Array(PAGE_SIZE / 8)));
    return f;
  };
  for (const r of scenario.memory) {
    const count = "qwords" in r ? r.qwords.length : r.count;
    for (let i = 0; i < count; i++) {
      const pa = r.paddr + 8n * BigInt(i);
      frame(pa >> 12n)[Number(pa & 0xfffn) >> 3] = "qwords" in r ? r.qwords[i]! : r.fill;
    }
  }
  for (const [pfn, words] of image) mmu.memory.writeBytes(pfn << 12n, new Uint8Array(words.buffer));
  return image;
}

/** Every 8-byte word whose value differs from the initial image, ascending. */
function changes(mmu: Mmu, before: Map<bigint, BigUint64Array>): MemoryChange[] {
  const frames = new Set<bigint>(before.keys());
  for (const pa of mmu.memory.frames()) frames.add(pa >> 12n);
  const out: MemoryChange[] = [];
  for (const pfn of [...frames].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
    const now = new BigUint64Array(mmu.memory.readBytes(pfn << 12n, PAGE_SIZE).buffer);
    const then = before.get(pfn);
    for (let i = 0; i < now.length; i++) {
      if (now[i] !== (then ? then[i] : 0n)) out.push({ paddr: (pfn << 12n) + BigInt(8 * i), value: now[i]! });
    }
  }
  return out;
}


/**
 * One TLB step on the Mmu, as its instruction does (the TLB extension). The
 * processor's #GP(0) is the result, with nothing changed: a MOV to CR3 the
 * register setter refuses (a bit at or above MAXPHYADDR, PCID bits without
 * CR4.PCIDE, a PAE PDPTE with a reserved bit); an INVPCID of a non-canonical
 * address (type 0) or of a PCID other than 0 with CR4.PCIDE=0 (types 0, 1).
 */
/** A shootdown's invalidation as the Machine takes it. */
function invalidationOf(i: Invalidate): Invalidation {
  if (i.step === "invlpg") return { kind: "invlpg", va: i.va };
  if (i.step === "invpcid") return { kind: "invpcid", type: i.type, pcid: i.pcid, va: i.va };
  return { kind: "flush" };
}

function performStep(mmu: Mmu, step: TlbStep): StepResult {
  const gp: StepResult = { ok: false, fault: "GP", errorCode: 0n, step: step.step };
  switch (step.step) {
    case "mov_cr3":
      try {
        mmu.cr3 = step.value;
      } catch (e) {
        if (e instanceof RegisterError) return gp;
        throw e;
      }
      break;
    case "invlpg":
      // INVLPG of a non-canonical address is a no-op (SDM: INVLPG), not a fault.
      if (isCanonical(mmu, step.va)) mmu.invlpg(step.va);
      break;
    case "invpcid":
      if (step.type <= 1 && step.pcid !== 0 && !bit(mmu.cr4, CR4_PCIDE_BIT)) return gp;
      if (step.type === 0 && !isCanonical(mmu, step.va)) return gp;
      mmu.invpcid(step.type, step.pcid, step.va);
      break;
    case "store":
      mmu.memory.write(step.paddr, step.size, step.value);
      break;
    case "flush":
      mmu.flushTlb();
      break;
  }
  return { ok: true, step: step.step };
}

/** Canonical for the current mode: 48 or 57 bits in long mode; outside it every (32-bit) address is. */
function isCanonical(mmu: Mmu, va: bigint): boolean {
  const mode = mmu.pagingMode;
  if (mode !== "4-level" && mode !== "5-level") return true;
  const top = mode === "5-level" ? 56n : 47n;
  const high = va >> top;
  return high === 0n || high === (1n << (64n - top)) - 1n;
}
