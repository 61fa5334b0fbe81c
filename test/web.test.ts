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
});
