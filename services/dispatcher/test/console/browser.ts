import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (scripts/ensure-services.sh installs it); CHROMIUM_PATH points elsewhere. No browser is downloaded. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the console tests write the screenshots docs/console.md shows. */
export const SCREENSHOT_DIR = join(__dirname, '..', '..', '..', '..', 'docs', 'console');

export const DESKTOP = { width: 1280, height: 800 };
/** A current phone's CSS viewport (390 × 844, as an iPhone 12 to 14). */
export const PHONE = { width: 390, height: 844 };

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: run scripts/ensure-services.sh as root (apt-get install chromium) or set CHROMIUM_PATH`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Saves docs/console/<name>.png of the page as it is now. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false, animations: 'disabled' });
}

/**
 * Records the page's layout shifts (Chromium's Layout Instability API) from the first paint of
 * every document the context opens; shifts right after a click or key press do not count, as
 * in Cumulative Layout Shift. layoutShift() reads the total.
 */
export async function recordLayoutShifts(context: BrowserContext): Promise<void> {
  await context.addInitScript(`
    window.__layoutShifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.hadRecentInput) continue;
        const sources = (entry.sources || []).map((s) => s.node ? (s.node.nodeName + (s.node.className ? '.' + String(s.node.className).replace(/ /g, '.') : '')) : '?');
        window.__layoutShifts.push({ value: entry.value, sources });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  `);
}

export interface LayoutShifts {
  total: number;
  shifts: Array<{ value: number; sources: string[] }>;
}

export async function layoutShifts(page: Page): Promise<LayoutShifts> {
  const shifts = await page.evaluate<Array<{ value: number; sources: string[] }>>('window.__layoutShifts.slice()');
  return { total: shifts.reduce((sum, s) => sum + s.value, 0), shifts };
}

/** How much wider than the viewport the page is (0: no sideways scrolling). */
export async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}

const FOCUSED = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return { name: '', ring: false };
  const label = e.getAttribute('aria-label') || (e.labels && e.labels[0] ? e.labels[0].textContent : '') || e.textContent || '';
  const style = getComputedStyle(e);
  return { name: label.trim(), ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
})()`;

/** The accessible name of the focused element and whether it shows a focus ring. */
export async function focused(page: Page): Promise<{ name: string; ring: boolean }> {
  return page.evaluate<{ name: string; ring: boolean }>(FOCUSED);
}

/**
 * Presses Tab until each of `names` has had the focus, in that order, each with a visible focus
 * ring; fails after `max` presses. Answers every name the focus passed through.
 */
export async function tabThrough(page: Page, names: string[], max = 40): Promise<string[]> {
  const passed: string[] = [];
  let next = 0;
  for (let press = 0; press < max && next < names.length; press += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (passed[passed.length - 1] !== now.name) passed.push(now.name);
    if (now.name === names[next]) {
      if (!now.ring) throw new Error(`"${now.name}" has the focus but shows no focus ring`);
      next += 1;
    }
  }
  if (next < names.length) throw new Error(`Tab never reached "${names[next]}" after ${passed.map((n) => `"${n}"`).join(', ')}`);
  return passed;
}
