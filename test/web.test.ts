/**
 * End to end: build the page-walk explorer (web/) with Vite, serve the built
 * files with `vite preview` on 127.0.0.1 (offline: nothing is fetched from
 * anywhere else), drive it in headless Chromium through playwright-core,
 * check the drawn walk and outcome, and save a screenshot to
 * test-results/ (and to docs/web-screenshot.png, the README's picture, with
 * X86MMU_UPDATE_SCREENSHOT=1).
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); without
 * it only this file is skipped, saying why.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext, Page } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const vite = join(root, "node_modules/vite/bin/vite.js");

if (!hasChromium) {
  console.warn(`test/web.test.ts: skipped: ${CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium; .ci/run does this when it runs as root)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(!hasChromium)(`the web page in headless Chromium${hasChromium ? "" : ` (skipped: ${CHROMIUM} is missing)`}`, () => {
  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let url = "";
  let profile = "";

  beforeAll(async () => {
    const built = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: root, encoding: "utf8" });
    expect(built.status, built.stderr).toBe(0);
    expect(existsSync(join(root, "web/dist/index.html"))).toBe(true);

    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    server = spawn(process.execPath, [vite, "preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("vite preview did not start in 15 s")), 15_000);
      server!.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes(String(port))) {
          clearTimeout(timer);
          resolve();
        }
      });
      server!.once("exit", (code) => reject(new Error(`vite preview exited with ${code}`)));
    });

    const { chromium } = await import("playwright-core");
    profile = mkdtempSync(join(tmpdir(), "x86mmu-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Offline: the page may fetch only from the preview server.
    await page.route("**/*", (route) => (route.request().url().startsWith(url) || route.request().url().startsWith("data:") ? route.continue() : route.abort()));
  }, 40_000);

  afterAll(async () => {
    await context?.close();
    server?.kill();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("loads an example, translates addresses, draws the walk, decodes the fault, and takes a screenshot", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });

    // Load examples/smap.json and run its first access: supervisor read of a user page, EFLAGS.AC=0.
    await page.selectOption("#example", { label: "smap.json" });
    await expect.poll(() => page.textContent("#scenario-name")).toContain("SMAP");
    await page.click("[data-preset='0']");
    await expect.poll(() => page.textContent("#error-code")).toBe("0x1");
    expect(await page.textContent("#cr2")).toBe("0x1000");
    // The address bits: PT index 1 (bits 20:12), offset 0.
    expect(await page.locator(".bit-labels .f-pt .val").textContent()).toBe("1 · 0x1");
    // Four levels drawn, each with its selected entry highlighted.
    expect(await page.locator(".level").evaluateAll((ls) => ls.map((l) => l.getAttribute("data-level")))).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(await page.locator(".level[data-level=PT] tr.selected").innerText()).toMatch(/\[1\]\s+0x4008\s+0x6007\s+P RW US/);
    expect(await page.locator(".level[data-level=PT] .stop").innerText()).toContain("SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0");
    // The checks: SMAP fails, U/S does not apply at CPL 0.
    expect(await page.getAttribute("li[data-check=SMAP]", "class")).toBe("fail");
    expect(await page.getAttribute("li[data-check='U/S']", "class")).toBe("na");
    // The error code bit by bit.
    expect(await page.locator(".pfec-bit[data-bit=P] .v").textContent()).toBe("1");
    expect(await page.locator(".pfec-bit[data-bit='W/R'] .v").textContent()).toBe("0");
    expect(await page.locator(".pfec-bit[data-bit='U/S'] .v").textContent()).toBe("0");
    expect(await page.locator(".pfec-bit.set").count()).toBe(1);

    mkdirSync(join(root, "test-results"), { recursive: true });
    await page.screenshot({ path: join(root, "test-results/web-screenshot.png"), fullPage: true });
    if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.screenshot({ path: join(root, "docs/web-screenshot.png"), fullPage: true });

    // Type an address and an access: with EFLAGS.AC=1 the read of 0x1008 reaches 0x6008.
    await page.fill("#va", "0x1008");
    await page.check("#ac");
    await page.click("#translate");
    await expect.poll(() => page.textContent("#pa")).toBe("0x6008");
    expect(await page.getAttribute("li[data-check=SMAP]", "class")).toBe("pass");

    // Edit a page-table entry from the picture: clear P in the PTE, the read faults as not present.
    await page.locator(".level[data-level=PT] .entry-bits .chip", { hasText: /^P$/ }).click();
    await expect.poll(() => page.textContent("#error-code")).toBe("0x0");
    expect(await page.locator(".level[data-level=PT] .stop").innerText()).toContain("not present");
    expect(await page.inputValue("#memory tr[data-paddr='0x4008'] td:nth-child(2) input")).toBe("0x6006");

    // A register chip: 5-level paging off/on is CR4.LA57; the non-canonical access of five-level.json is #GP.
    await page.selectOption("#example", { label: "five-level.json" });
    await page.click("[data-preset='1']");
    await expect.poll(() => page.locator("#outcome .big").textContent()).toContain("#GP(0)");
    await page.click("[data-preset='0']");
    await expect.poll(() => page.textContent("#pa")).toBe("0x9000");
    expect(await page.locator(".level").count()).toBe(5);

    expect(errors).toEqual([]);
  }, 30_000);
  /** Elements inside a card (or a level card) that stick out of its box, and scroll boxes that scroll: none expected. */
  async function overflows(): Promise<string[]> {
    return page.evaluate(() => {
      const bad: string[] = [];
      const name = (e: Element) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${[...e.classList].join(".")}`;
      for (const box of document.querySelectorAll("#result .card, #result .level, .grid-wrap")) {
        const b = box.getBoundingClientRect();
        if (box.scrollWidth > box.clientWidth + 1) bad.push(`${name(box)} scrolls: ${box.scrollWidth} > ${box.clientWidth}`);
        for (const c of box.querySelectorAll("*")) {
          const r = c.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) continue;
          if (r.left < b.left - 1 || r.right > b.right + 1) bad.push(`${name(c)} [${Math.round(r.left)}, ${Math.round(r.right)}] outside ${name(box)} [${Math.round(b.left)}, ${Math.round(b.right)}]`);
        }
      }
      return bad.slice(0, 10);
    });
  }

  it("draws 32-bit paging, PAE paging, paging off and the 2-D walk of nested paging, at 1440 px, without overflow", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    mkdirSync(join(root, "test-results"), { recursive: true });
    const shot = async (file: string) => {
      await page.screenshot({ path: join(root, "test-results", file), fullPage: true });
      if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.screenshot({ path: join(root, "docs", file), fullPage: true });
    };
    const levels = () => page.locator(".level").evaluateAll((ls) => ls.map((l) => l.getAttribute("data-level")));
    const fields = () => page.locator(".bit-labels .field").evaluateAll((ls) => ls.map((l) => l.getAttribute("data-field")));

    // 32-bit paging: a PDE and a PTE of 4 bytes, the address split 31:22 | 21:12 | 11:0; the user write to a read-only PTE faults.
    await page.selectOption("#example", { label: "legacy-32bit.json" });
    await page.click("[data-preset='1']");
    await expect.poll(() => page.textContent("#error-code")).toBe("0x7");
    expect(await levels()).toEqual(["PDE", "PTE"]);
    expect(await fields()).toEqual(["PDE", "PTE", "offset"]);
    expect(await page.locator(".bits .bit").count()).toBe(32);
    expect(await page.locator(".level[data-level=PTE] tr.selected").innerText()).toMatch(/\[1\]\s+0x2004\s+0x6005\s+P US/);
    expect(await page.locator(".level[data-level=PDE] .gap").first().innerText()).toContain("1 more entry");
    expect(await overflows()).toEqual([]);
    await shot("web-32bit.png");

    // A 4 MiB page: PDE bits 31:22 and (PSE-36) 20:13 give the frame, the linear address bits 21:0 the offset.
    await page.click("[data-preset='2']");
    await expect.poll(() => page.textContent("#pa")).toBe("0x100cabcde");
    expect(await levels()).toEqual(["PDE"]);
    expect(await fields()).toEqual(["PDE", "offset"]);
    expect(await page.locator("#pse36").innerText()).toMatch(/PDE 20:13\s+→\s+PA 39:32\s+00000001\s+0x1/);
    expect(await page.locator(".level[data-level=PDE] .target").innerText()).toBe("→ 4 MiB page at 0x100c00000");
    // The PDE's 32 bits drawn in fields: 31:22 and 20:13 hold the frame; bit 21 and, with MAXPHYADDR 36, bits 20:17 (PA 39:36) are reserved.
    expect(await page.locator("#pse36 .pde-bits .bit").count()).toBe(32);
    expect(await page.locator("#pse36 .pde-bits .pa-lo").innerText()).toBe("0000000011".split("").join("\n"));
    expect(await page.locator("#pse36 .pde-bits .bit.reserved").count()).toBe(5);
    expect(await page.locator("#pse36 .pde-bits .bit.reserved.bad").count()).toBe(0);
    expect(await overflows()).toEqual([]);
    await shot("web-32bit-4m.png");

    // Paging off (CR0.PG=0): no walk, physical = linear.
    await page.locator(".reg", { hasText: "CR0" }).locator(".chip", { hasText: /^PG$/ }).click();
    await expect.poll(() => page.textContent("#paging-off")).toContain("paging off: physical = linear");
    expect(await page.textContent("#pa")).toBe("0x8abcde");
    expect(await page.locator(".level").count()).toBe(0);

    // PAE paging: the PDPTE register, then a PDE and a PTE of 8 bytes; XD forbids the fetch.
    await page.selectOption("#example", { label: "pae.json" });
    await page.click("[data-preset='1']");
    await expect.poll(() => page.textContent("#error-code")).toBe("0x15");
    expect(await levels()).toEqual(["PDPTE", "PDE", "PTE"]);
    expect(await fields()).toEqual(["PDPTE", "PDE", "PTE", "offset"]);
    expect(await page.getAttribute("li[data-check=XD]", "class")).toBe("fail");
    expect(await overflows()).toEqual([]);
    await shot("web-pae.png");
    // A 2 MiB page above 4 GiB: PDPTE 31:30 | PDE 29:21 | offset 20:0.
    await page.click("[data-preset='2']");
    await expect.poll(() => page.textContent("#pa")).toBe("0x1002abcde");
    expect(await fields()).toEqual(["PDPTE", "PDE", "offset"]);
    // A reserved bit in a PDPTE: #GP when the PDPTE registers are loaded.
    const pdpt = page.locator("#memory tr[data-paddr='0x1000'] td:nth-child(2) input");
    await pdpt.fill("0x2003");
    await pdpt.dispatchEvent("change");
    await expect.poll(() => page.locator("#outcome .big").textContent()).toContain("#GP(0)");
    expect(await page.locator("#outcome ul.pdptes li.bad").innerText()).toContain("PDPTE[0] at 0x1000 = 0x2003");

    // Nested paging: the 2-D walk, a row per guest level and the final address, a column per nested level.
    await page.selectOption("#example", { label: "nested.json" });
    await page.click("[data-preset='1']");
    await expect.poll(() => page.textContent("#exitinfo1")).toBe("0x100000007");
    expect(await page.textContent("#exitinfo2")).toBe("0x205010");
    const rows = () => page.locator("table.grid2d tr[data-row]").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-row")));
    expect(await rows()).toEqual(["PML4[0]", "PDPT[0]", "PD[2]", "PT[1]", "final"]);
    expect(await page.locator("tr[data-row=final] td[data-col=PT]").getAttribute("class")).toContain("stopped");
    expect(await page.locator("tr[data-row=final] td[data-col=PT]").getAttribute("title")).toContain("at host-physical 0x103028");
    expect(await page.locator("tr[data-row='PD[2]'] td[data-col=guest] .val").textContent()).toBe("0x203007");
    expect(await page.getAttribute(".refs-total", "data-refs")).toBe("24");
    expect(await page.locator("tr.stop-row").innerText()).toContain("stops at nPT");
    expect(await page.locator("tr.stop-row .reason").innerText()).toContain("R/W=0 in nPT[5]");
    expect(await page.textContent("#npf-why")).toContain("R/W=0 in nPT[5]: a write needs R/W=1 in every nested entry");
    // Each cell holds the entry's host-physical address; the cell where the walk stopped is picked, its entry editable below the grid.
    expect(await page.locator("tr[data-row=final] td[data-col=PT] .addr").textContent()).toBe("@0x103028");
    expect(await page.locator("tr[data-row='PT[1]'] td[data-col=guest] .addr").textContent()).toBe("@0x403008");
    expect(await page.locator("td.picked").getAttribute("data-key")).toBe("0/final/PT");
    expect(await page.locator("#cell-editor .cell-editor-head").innerText()).toContain("[5] at host-physical 0x103028 = 0x405005");
    for (const [b, v] of [["P", "1"], ["RW", "1"], ["US", "1"], ["RSVD", "0"], ["FINAL", "1"], ["TABLE", "0"]]) expect(await page.locator(`.pfec-bit[data-bit=${b}] .v`).textContent()).toBe(v);
    expect(await levels()).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(await overflows()).toEqual([]);
    await shot("web-npt.png");
    // Toggle a nested-table bit: R/W in nPT[5] (host-physical 0x103028), and the write goes through.
    await page.locator("#cell-editor .chip", { hasText: /^RW$/ }).click();
    await expect.poll(() => page.textContent("#pa")).toBe("0x405010");
    expect(await page.inputValue("#memory tr[data-paddr='0x103028'] td:nth-child(2) input")).toBe("0x405007");
    expect(await page.locator("td.picked").getAttribute("data-key")).toBe("0/final/PT");
    // Pick another cell (the nested PD entry on PD[2]'s row) and clear its U/S: every nested access is a user access.
    await page.locator("tr[data-row='PD[2]'] td[data-col=PD]").click();
    await expect.poll(() => page.locator("#cell-editor .cell-editor-head").innerText()).toContain("[1] at host-physical 0x102008 = 0x103007");
    expect(await page.locator("#cell-editor .cell-editor-head").innerText()).toContain("this row read 0x103027");
    await page.locator("#cell-editor .chip", { hasText: /^US$/ }).click();
    await expect.poll(() => page.textContent("#exitinfo1")).toBe("0x200000007");
    expect(await page.textContent("#exitinfo2")).toBe("0x200000");
    expect(await page.textContent("#npf-why")).toContain("U/S=0 in nPD[1]");
    // The rights are checked once the nested walk has read its leaf: it stops at nPT, and the cell to blame, nPD, is marked.
    expect(await page.locator("tr[data-row=PML4] td[data-col=PT]").getAttribute("class")).toContain("stopped");
    expect(await page.locator("td.cause").getAttribute("data-key")).toBe("0/PML4/PD");
    // The edited entry stays picked though its row is gone: flip U/S back.
    await page.locator("#cell-editor .chip", { hasText: /^US$/ }).click();
    await expect.poll(() => page.textContent("#pa")).toBe("0x405010");
    // A guest table page the nested tables do not map: NPF while translating the guest PT entry's address.
    await page.click("[data-preset='3']");
    await expect.poll(() => page.textContent("#exitinfo1")).toBe("0x200000006");
    expect(await rows()).toEqual(["PML4[0]", "PDPT[0]", "PD[3]", "PT"]);
    expect(await page.locator("tr[data-row=PT] td[data-col=guest]").textContent()).toBe("not read");
    expect(await page.locator("tr[data-row=PT] td.mono").first().textContent()).toBe("0x207000");
    expect(await page.textContent("#npf-why")).toContain("nPT[7] is not present (P=0)");
    // Success: guest-physical 0x204120, host-physical 0x404120; a guest #PF.
    await page.click("[data-preset='0']");
    await expect.poll(() => page.textContent("#pa")).toBe("0x404120");
    expect(await page.textContent("#gpa")).toBe("0x204120");
    expect(await page.locator("tr[data-row=final] td[data-col=guest]").innerText()).toContain("→ 0x404120");
    // A guest #PF (the guest PTE is read-only); its RW flag, flipped from the picture, is edited at the PTE's host address.
    await page.click("[data-preset='4']");
    await expect.poll(() => page.textContent("#error-code")).toBe("0x7");
    expect(await overflows()).toEqual([]);
    await page.locator(".level[data-level=PT] .entry-bits .chip", { hasText: /^RW$/ }).click();
    await expect.poll(() => page.textContent("#pa")).toBe("0x404000");
    expect(await page.inputValue("#memory tr[data-paddr='0x403018'] td:nth-child(2) input")).toBe("0x204007");

    // At 420 px the page does not scroll sideways in any mode: the 2-D grid scrolls inside its own box.
    await page.setViewportSize({ width: 420, height: 900 });
    for (const [example, preset] of [["legacy-32bit.json", "2"], ["pae.json", "1"], ["nested.json", "1"]] as const) {
      await page.selectOption("#example", { label: example });
      await page.click(`[data-preset='${preset}']`);
      await expect.poll(() => page.locator("#outcome").count()).toBe(1);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    }
    await page.setViewportSize({ width: 1440, height: 900 });

    expect(errors).toEqual([]);
  }, 30_000);

  it("runs tlb-stale.json in sequence mode with the TLB panel, builds tables, marks errors, and fits 1 GiB and 5-level walks at 1440 and 420 px", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    mkdirSync(join(root, "test-results"), { recursive: true });
    const shot = async (file: string) => {
      await page.screenshot({ path: join(root, "test-results", file), fullPage: true });
      if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.screenshot({ path: join(root, "docs", file), fullPage: true });
    };
    page.setDefaultTimeout(5_000);
    const tlbRows = () => page.locator("#tlb-table tbody tr").evaluateAll((rs) => rs.map((r) => `${r.getAttribute("data-page")} ${r.className} ${r.querySelector(".what")?.textContent ?? ""}`.trim()));

    // Sequence mode opens with the first item run: a miss that fills the entry for page 0x0.
    await page.selectOption("#example", { label: "tlb-stale.json" });
    await expect.poll(() => page.isChecked("#seq-on")).toBe(true);
    await expect.poll(() => page.textContent("#pa")).toBe("0x5010");
    expect(await page.locator(".seq-item.current .mark").textContent()).toBe("miss");
    expect(await tlbRows()).toEqual(["0x0 filled picked filled"]);
    // Item 2 hits; item 3 stores the PTE without INVLPG; item 4 still hits, stale: memory now says 0x6010.
    await page.click("#seq-next");
    await expect.poll(() => page.locator(".seq-item.current .mark").textContent()).toBe("hit");
    expect(await page.textContent("#tlb-hit")).toContain("no page walk");
    await page.click("#seq-next");
    await expect.poll(() => page.locator("#outcome .big").textContent()).toContain("store 0x4000 ← 0x6007");
    await page.click("#seq-next");
    await expect.poll(() => page.locator("#tlb-hit .big").textContent()).toBe("TLB hit: a stale translation");
    expect(await page.textContent("#pa")).toBe("0x5010");
    expect(await page.textContent("#tlb-hit .stale-why")).toContain("physical address 0x6010");
    expect(await tlbRows()).toEqual(["0x0 hit picked hit"]);
    expect(await page.locator("#tlb-table tr.hit td").nth(1).textContent()).toBe("0x5000");
    expect(await page.textContent("#pte-writer")).toContain("PT entry at 0x4000 is 0x6007");
    expect(await overflows()).toEqual([]);
    await shot("web-tlb.png");
    // INVLPG (item 5) evicts it; the next read walks and reaches the new frame.
    await page.click("#seq-next");
    await expect.poll(() => tlbRows()).toEqual(["0x0 evicted evicted"]);
    await page.click("#seq-next");
    await expect.poll(() => page.textContent("#pa")).toBe("0x6010");
    // Run all: after the MOV to CR3 the global page 0x1000 still hits.
    await page.click("#seq-all");
    await expect.poll(() => page.textContent("#pa")).toBe("0x7010");
    expect(await page.locator(".seq-item.current .mark").textContent()).toBe("hit");
    expect(await page.locator("#tlb-table tr.hit td").nth(4).textContent()).toBe("G");
    // Back one item; a step from the buttons: INVLPG of the form's address, inserted and run.
    await page.click("#seq-back");
    await expect.poll(() => page.locator(".seq-item.current").getAttribute("data-item")).toBe("8");
    await page.click("#step-flush");
    await expect.poll(() => page.locator(".seq-item.current .what").textContent()).toBe("flush the TLB");
    expect(await page.locator("#tlb-table tbody tr.evicted").count()).toBe(2);
    // Write the picked entry's PTE without invalidation, from the panel: back at item 2 (hit on 0x0).
    await page.locator(".seq-item[data-item='1']").click();
    await expect.poll(() => page.locator(".seq-item.current .mark").textContent()).toBe("hit");
    await page.fill("#pte-value", "0x7007");
    await page.click("#write-pte");
    await expect.poll(() => page.locator(".seq-item.current .what").textContent()).toBe("store 0x4000 ← 0x7007 (no invalidation)");

    // The page-table builder: a user page and a 2 MiB page, made by PageTable.map; the walk reaches them.
    await page.selectOption("#example", { label: "user-write-readonly.json" });
    await expect.poll(() => page.isChecked("#seq-on")).toBe(false);
    await page.locator("#builder tr[data-map='1'] .map-size").selectOption("2M");
    await page.locator("#builder tr[data-map='1'] .map-va").fill("0x600000");
    await page.locator("#builder tr[data-map='1'] .map-va").dispatchEvent("change");
    await page.locator("#builder tr[data-map='1'] .map-pa").fill("0x400000");
    await page.locator("#builder tr[data-map='1'] .map-pa").dispatchEvent("change");
    await page.click("#build");
    await expect.poll(() => page.textContent("#pa")).toBe("0x5000");
    expect(await page.locator(".level").count()).toBe(4);
    await page.selectOption("#op", "read");
    await page.fill("#va", "0x6abcde");
    await page.click("#translate");
    await expect.poll(() => page.textContent("#pa")).toBe("0x4abcde");
    expect(await page.textContent("#mode")).toContain("2 MiB page");
    expect(await page.locator("#memory tbody tr").count()).toBeGreaterThanOrEqual(4);

    // Errors in the page's words, the field marked.
    await page.fill("#va", "0xzz");
    await page.click("#translate");
    await expect.poll(() => page.isHidden("#error")).toBe(false);
    expect(await page.textContent("#error")).toContain('The access\'s linear address: "0xzz" is not a number');
    expect(await page.getAttribute("#va", "aria-invalid")).toBe("true");
    await page.fill("#va", "0x400000");
    await page.click("#translate");
    await expect.poll(() => page.isHidden("#error")).toBe(true);
    expect(await page.getAttribute("#va", "aria-invalid")).toBe(null);

    // CR3 with low bits: PWT/PCD are flags, the rest ignored; with CR4.PCIDE, the PCID.
    await page.fill("#reg-cr3", "0x101f");
    await page.locator("#reg-cr3").dispatchEvent("change");
    await expect.poll(() => page.textContent("#cr3-bits")).toContain("PWT=1");
    expect(await page.textContent("#cr3-bits")).toContain("2:0, 11:5 ignored (set: 0x7)");

    // A reserved-bit fault: the PD entry's bit 13 marked.
    await page.selectOption("#example", { label: "large-pages.json" });
    await page.click("[data-preset='2']");
    await expect.poll(() => page.textContent("#error-code")).toBe("0x9");
    expect(await page.locator("#rsvd .bit.bad").count()).toBe(1);
    expect(await page.locator("#rsvd .bit.bad").getAttribute("title")).toBe("bit 13 (reserved) = 1");

    // A 1 GiB page: offset 29:0 as the CLI says, the PD and PT bits named in it; and the 5-level walk in one row; at 1440 and 420 px.
    for (const width of [1440, 420]) {
      await page.setViewportSize({ width, height: 900 });
      await page.selectOption("#example", { label: "large-pages.json" });
      await page.click("[data-preset='1']");
      await expect.poll(() => page.textContent("#pa")).toBe("0x407654321");
      expect(await page.locator(".bit-labels [data-field=offset] small").first().textContent()).toBe("29:0");
      expect(await page.locator(".bit-labels [data-field=offset] .val").textContent()).toBe("0x7654321");
      expect(await page.locator(".bit-labels .swallowed").textContent()).toBe("PD 29:21 · PT 20:12 · 11:0 0x321");
      expect(await overflows()).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await shot(`web-1g-${width}.png`);
      await page.selectOption("#example", { label: "five-level.json" });
      await page.click("[data-preset='0']");
      await expect.poll(() => page.textContent("#pa")).toBe("0x9000");
      // Five cards: in one row at 1440 px (same top), one under the other at 420 px (left edges equal); never a wrapped row.
      const boxes = await page.locator(".level").evaluateAll((ls) => ls.map((l) => l.getBoundingClientRect()).map((r) => ({ top: Math.round(r.top), left: Math.round(r.left) })));
      expect(boxes).toHaveLength(5);
      if (width === 1440) expect(new Set(boxes.map((b) => b.top)).size).toBe(1);
      else expect(new Set(boxes.map((b) => b.left)).size).toBe(1);
      expect(await overflows()).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await shot(`web-5level-${width}.png`);
    }
    // Protection keys and the TLB panel at 1024 and 1920 px: the cards fit.
    for (const width of [1024, 1920]) {
      await page.setViewportSize({ width, height: 900 });
      await page.selectOption("#example", { label: "protection-keys.json" });
      await page.click("[data-preset='1']");
      await expect.poll(() => page.textContent("#error-code")).toBe("0x27");
      expect(await overflows()).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    }
    await page.setViewportSize({ width: 420, height: 900 });
    await page.selectOption("#example", { label: "tlb-stale.json" });
    await page.click("#seq-next");
    await expect.poll(() => page.locator(".seq-item.current .mark").textContent()).toBe("hit");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    await page.setViewportSize({ width: 1440, height: 900 });
    expect(errors).toEqual([]);
  }, 40_000);

  it("quiz mode: an exercise of x86mmu exercise with the walk hidden, a wrong and a right answer checked, then the walk; fits at 1440 and 420 px", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    mkdirSync(join(root, "test-results"), { recursive: true });
    const shot = async (file: string) => {
      await page.screenshot({ path: join(root, "test-results", file), fullPage: true });
      if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.screenshot({ path: join(root, "docs", file), fullPage: true });
    };
    page.setDefaultTimeout(5_000);
    // The same exercise the CLI gives for seed 7 (x86mmu exercise --seed 7), and the core's answers to it.
    const { generateExercises, exerciseAccessWords, CoreEngine } = await import("../src/scenario/index.js");
    const ex = generateExercises({ seed: 7, count: 1, mode: "4-level" })[0]!;
    const results = new CoreEngine().run(ex.scenario).results;
    expect(results.length).toBeGreaterThanOrEqual(2);
    const answerOf = (r: (typeof results)[number]) =>
      "step" in r ? undefined : r.ok ? { kind: "pa", value: "0x" + r.pa.toString(16) } : r.fault === "PF" ? { kind: "pf", value: "0x" + r.errorCode.toString(16) } : { kind: "gp", value: "" };

    await page.fill("#quiz-seed", "7");
    await page.selectOption("#quiz-mode", "4-level");
    await page.click("#quiz-new");
    await expect.poll(() => page.textContent("#quiz-access")).toBe(exerciseAccessWords(ex.scenario.accesses[0]!, "4-level"));
    // The question is open: no walk, no TLB panel; the exercise's registers are in the editors.
    expect(await page.isHidden("#result")).toBe(true);
    expect(await page.isHidden("#tlb-card")).toBe(true);
    expect(await page.inputValue("#reg-cr3")).toBe(ex.json.cpu.cr3);
    await shot("web-quiz-question.png");

    // A wrong answer: the verdict names the right one, and the walk appears with it.
    const first = answerOf(results[0]!)!;
    if (first.kind === "gp") await page.selectOption("#quiz-kind", "pa"), await page.fill("#quiz-answer", "0x1");
    else await page.selectOption("#quiz-kind", first.kind), await page.fill("#quiz-answer", first.value + "0");
    await page.click("#quiz-check");
    await expect.poll(() => page.getAttribute("#quiz-verdict", "class")).toContain("wrong");
    const words = first.kind === "pa" ? `physical address ${first.value}` : first.kind === "pf" ? `#PF, error code ${first.value}` : "#GP(0)";
    expect(await page.textContent("#quiz-verdict")).toContain(words);
    expect(await page.isVisible("#result")).toBe(true);
    if (first.kind === "pa") await expect.poll(() => page.textContent("#pa")).toBe(first.value);
    if (first.kind === "pf") await expect.poll(() => page.textContent("#error-code")).toBe(first.value);

    // The next access, answered right.
    await page.click("#quiz-next");
    await expect.poll(() => page.textContent("#quiz-access")).toBe(exerciseAccessWords(ex.scenario.accesses[1]!, "4-level"));
    expect(await page.isHidden("#result")).toBe(true);
    const second = answerOf(results[1]!)!;
    await page.selectOption("#quiz-kind", second.kind);
    if (second.kind !== "gp") await page.fill("#quiz-answer", second.value);
    await page.click("#quiz-check");
    await expect.poll(() => page.getAttribute("#quiz-verdict", "class")).toContain("right");
    expect(await page.textContent("#quiz-verdict")).toMatch(/^Right:/);
    await shot("web-quiz-1440.png");
    expect(await overflows()).toEqual([]);

    await page.setViewportSize({ width: 420, height: 900 });
    await shot("web-quiz-420.png");
    expect(await overflows()).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    // Choosing an example again shows its walk (the quiz had hidden it).
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.selectOption("#example", { label: "smap.json" });
    await expect.poll(() => page.isVisible("#result")).toBe(true);
    expect(errors).toEqual([]);
  }, 40_000);

  it("the memory-image explorer: the Linux sample's 74,333 pages and 65,652 info mem ranges, a slot zoomed, a range's walk", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    mkdirSync(join(root, "test-results"), { recursive: true });
    await page.click("#img-sample");
    // The counts QEMU's info tlb and info mem give for the sample (test/linux-sample.test.ts compares every line).
    await expect.poll(() => page.getAttribute("#img-status", "data-leaves"), { timeout: 20_000 }).toBe("74333");
    expect(await page.getAttribute("#img-status", "data-ranges")).toBe("65652");
    // Slot 0 (the user half's first 512 GiB) opens first; its first range is info mem's first line.
    expect(await page.getAttribute(".slot.picked", "data-slot")).toBe("0");
    expect(await page.locator("#img-ranges tbody tr").first().innerText()).toMatch(/^0000000000400000\s+00000000004f0000\s+00000000000f0000\s+ur-/);
    await page.locator("#img-ranges tbody tr").first().click();
    await expect.poll(() => page.textContent("#img-walk")).toContain("=> physical address 0xaf0e000");
    // The ESPFIX slot (510): 65,536 ranges, shown 200 at a time.
    await page.click(".slot[data-slot='510']");
    await expect.poll(() => page.textContent(".img-slot-title")).toContain("ESPFIX");
    expect(await page.locator("#img-ranges tbody tr").count()).toBe(200);
    await page.click("#img-more");
    expect(await page.locator("#img-ranges tbody tr").count()).toBe(400);
    // The walk of an ESPFIX range: a supervisor read, through the kernel half's tables.
    await page.locator("#img-ranges tbody tr").nth(1).click();
    await expect.poll(() => page.textContent("#img-walk")).toContain("=> physical address");
    const card = async (file: string) => {
      await page.locator("#image-card").screenshot({ path: join(root, "test-results", file) });
      if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.locator("#image-card").screenshot({ path: join(root, "docs", file) });
    };
    await card("web-linux-map-1440.png");
    await page.setViewportSize({ width: 420, height: 900 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    await card("web-linux-map-420.png");
    await page.setViewportSize({ width: 1440, height: 900 });
    expect(errors).toEqual([]);
  }, 60_000);

  it("two CPUs: CPU 1 keeps a stale TLB entry after CPU 0 remaps the page, until the shootdown", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    mkdirSync(join(root, "test-results"), { recursive: true });
    const step = () => page.click("#cpus-step");
    const tlb = (cpu: number) => page.locator(`.cpus-cpu[data-cpu='${cpu}'] tbody tr`).evaluateAll((rs) => rs.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, " ").trim()));
    await step(); // CPU 0 reads
    await step(); // CPU 1 reads
    expect(await tlb(0)).toEqual(["0x400000 0x10000"]);
    expect(await tlb(1)).toEqual(["0x400000 0x10000"]);
    await step(); // CPU 0 remaps and invalidates its own entry
    expect(await tlb(0)).toEqual(["empty"]);
    expect(await tlb(1)).toEqual(["0x400000 0x10000 stale"]);
    await step(); // CPU 1 reads: stale
    expect(await page.locator("#cpus-log li").last().textContent()).toContain("physical 0x10000: the stale translation");
    await step(); // the shootdown is posted, not performed
    expect(await page.locator(".cpus-cpu[data-cpu='1'] .cpus-pending").textContent()).toBe("pending: INVLPG 0x400000");
    expect(await tlb(1)).toEqual(["0x400000 0x10000 stale"]);
    await page.locator("#cpus-card").screenshot({ path: join(root, "test-results", "web-cpus.png") });
    if (process.env.X86MMU_UPDATE_SCREENSHOT === "1") await page.locator("#cpus-card").screenshot({ path: join(root, "docs", "web-cpus.png") });
    await step(); // CPU 1 takes it, then walks
    expect(await page.locator("#cpus-log li").last().textContent()).toContain("physical 0x20000; the shootdown is done: true");
    expect(await tlb(1)).toEqual(["0x400000 0x20000"]);
    expect(await page.isDisabled("#cpus-step")).toBe(true);
    await page.setViewportSize({ width: 420, height: 900 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    await page.setViewportSize({ width: 1440, height: 900 });
    expect(errors).toEqual([]);
  }, 40_000);

  it("two CPUs on real threads: CPU 1 in a Web Worker over a SharedMachine (the page is cross-origin isolated)", async () => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.click("#cpus-threads");
    await page.waitForFunction(() => document.querySelectorAll("#cpus-threads-log li").length >= 5 || /stopped/.test(document.querySelector("#cpus-threads-log")?.textContent ?? ""), undefined, { timeout: 15_000 });
    const lines = await page.locator("#cpus-threads-log li").allTextContents();
    expect(lines).toEqual([
      "CPU 1 (a Web Worker) reads 0x400000: physical 0x10000",
      "CPU 0 (this page) remaps 0x400000 to 0x20000 and invalidates its own entry: CPU 0 reads 0x20000",
      "CPU 1 reads again: physical 0x10000, its stale entry",
      "CPU 0 posts INVLPG 0x400000 to CPU 1: done false",
      "CPU 1's next access takes 1 invalidation, then walks: physical 0x20000; acknowledged: true",
    ]);
    expect(errors).toEqual([]);
  }, 40_000);

  it("without cross-origin isolation the two-thread run says so, and the one-thread lesson still plays", async () => {
    // The built page from a plain static server: no COOP/COEP headers, so no SharedArrayBuffer.
    const { createServer } = await import("node:http");
    const { readFileSync } = await import("node:fs");
    const { extname } = await import("node:path");
    const dist = join(root, "web/dist");
    const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json", ".svg": "image/svg+xml" };
    const srv = createServer((req, res) => {
      let path = join(dist, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
      if (path.endsWith("/")) path += "index.html";
      try {
        const body = readFileSync(path);
        res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
    const plainUrl = `http://127.0.0.1:${(srv.address() as { port: number }).port}/`;
    const p2 = await context!.newPage();
    try {
      const errors: string[] = [];
      p2.on("pageerror", (e) => errors.push(e.message));
      await p2.route("**/*", (route) => (route.request().url().startsWith(plainUrl) || route.request().url().startsWith("data:") ? route.continue() : route.abort()));
      await p2.goto(plainUrl);
      await p2.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
      expect(await p2.evaluate(() => crossOriginIsolated)).toBe(false);
      await p2.click("#cpus-threads");
      await p2.waitForSelector("#cpus-threads-log li", { timeout: 10_000 });
      expect(await p2.locator("#cpus-threads-log li").allTextContents()).toEqual([
        expect.stringContaining("This page is not cross-origin isolated"),
      ]);
      await p2.click("#cpus-step");
      expect(await p2.locator("#cpus-log li").first().textContent()).toContain("CPU 0 reads 0x400000: physical 0x10000");
      expect(errors).toEqual([]);
    } finally {
      await p2.close();
      srv.close();
    }
  }, 40_000);
});

