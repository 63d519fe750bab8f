import type { Browser, BrowserContext, Page } from 'playwright-core';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { ADMIN_KEY } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from '../e2e/support/dispatcher-process';
import { b64, startStack, type Stack } from '../e2e/support/stack';
import { DESKTOP, launchChromium, PHONE, screenshot } from './browser';

/**
 * The operator console in headless Chromium against a real stack: the built dispatcher (which
 * serves dist/console) as its own process, an ingress replica and simulated devices over TCP.
 * Each page is photographed into docs/console/.
 */
describe('operator console in a real browser', () => {
  let stack: Stack;
  let dispatcher: DispatcherProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const url = (path: string) => `${dispatcher.url}/console${path}`;

  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'console' });
    [dispatcher, browser] = await Promise.all([spawnDispatcher(testRedisUrl(), stack.prefix, stack.env), launchChromium()]);
    // A fixed zone and locale: the console shows times in the viewer's zone, and the screenshots stay comparable.
    context = await browser.newContext({ viewport: DESKTOP, timezoneId: 'Europe/Berlin', locale: 'en-GB' });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    dispatcher?.child.kill('SIGTERM');
    await dispatcher?.exited;
    await stack?.stop();
  });

  const signIn = async (key: string) => {
    await page.goto(url('/'));
    await page.getByLabel('Admin API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('refuses a wrong key with a visible message and keeps nothing', async () => {
    await signIn('not-a-key-of-this-cluster');
    await page.getByRole('alert').filter({ hasText: 'That key was refused' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await screenshot(page, 'login');
  });

  it('signs in with the admin key and shows the overview with the live replica', async () => {
    await signIn(ADMIN_KEY);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await waitFor(async () => (await page.getByTestId('replicas').textContent()) === '1', { what: 'one ingress replica on the overview' });
    // The stack's in-process dispatcher and the dispatcher process serving the console.
    expect(await page.getByTestId('dispatchers').textContent()).toBe('2');
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['outbound.console.apiKey']);
    // Keyboard: the first Tab reaches "skip to content", then the navigation; Enter follows a link.
    const focused = () => page.evaluate<string>('document.activeElement && document.activeElement.textContent');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Overview');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    // Focus moves to the new page's content, as after a page load.
    await waitFor(async () => (await page.evaluate<string>('document.activeElement.id')) === 'main', { what: 'focus on the new content' });
    // A client-side route survives a reload: the dispatcher answers index.html for it.
    await page.goto(url('/dead-letters'));
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  it('shows a device come online on its page and its queue drain, and finds it by prefix', async () => {
    // A command waiting for the device: its coming online is a device.online event in the log.
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-1', payload: b64('set 32A') });
    await waitFor(async () => (await stack.get(id)).waitingFor === 'device', { what: 'the command to wait for its device' });
    await page.goto(url('/devices/CONSOLE-DEV-1'));
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'offline', { what: 'the device page to show offline' });
    await page.getByRole('link', { name: id.slice(0, 8) }).first().waitFor();
    // Live: the page follows the event stream (it polls the connection only every 15 s meanwhile).
    await page.locator('[data-stream="live"]').waitFor();
    await stack.device('CONSOLE-DEV-1');
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'online', { timeoutMs: 10_000, what: 'the device page to show online' });
    await page.getByText('Nothing queued or in flight.').waitFor({ timeout: 10_000 });
    await page.getByText('replica-0').first().waitFor();
    await screenshot(page, 'device');

    await page.getByRole('link', { name: 'Devices' }).click();
    await page.getByLabel('phyId or its start').fill('CONSOLE-DEV');
    await page.getByRole('button', { name: 'Search online devices' }).click();
    await page.getByRole('link', { name: 'CONSOLE-DEV-1' }).waitFor();
    await screenshot(page, 'devices');
  });

  it('fills in a command timeline live as the device takes it', async () => {
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-2', payload: b64('set 16A') });
    await page.goto(url(`/commands/${id}`));
    await page.locator('[data-type="command.queued"]').waitFor();
    await waitFor(async () => (await page.getByTestId('command-status').textContent())?.startsWith('queued') ?? false, { what: 'the command page to show queued' });
    await page.locator('[data-stream="live"]').waitFor();
    await stack.device('CONSOLE-DEV-2');
    await page.locator('[data-type="command.acked"]').waitFor({ timeout: 15_000 });
    await page.locator('[data-type="command.delivered"]').waitFor();
    await waitFor(async () => (await page.getByTestId('command-status').textContent()) === 'acked', { what: 'the command page to show acked' });
    await screenshot(page, 'command');
  });

  it('replays a dead letter from the console and the device acks it', async () => {
    const device = await stack.device('CONSOLE-DEV-3', { busyRate: 1 });
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-3', payload: b64('reboot'), maxAttempts: 1 });
    await stack.waitStatus(id, 'dead');
    device.setBehaviour({ busyRate: 0 });

    await page.goto(url('/dead-letters'));
    await page.getByLabel('Device (phyId)').fill('CONSOLE-DEV-3');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    await page.getByLabel(`Select ${id}`).check();
    await screenshot(page, 'dead-letters');
    await page.getByRole('button', { name: 'Replay 1 selected' }).click();
    await page.getByRole('button', { name: 'Confirm: replay 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1 dead letter' }).waitFor();
    await stack.waitStatus(id, 'acked', 15_000);

    await page.goto(url(`/commands/${id}`));
    await waitFor(async () => (await page.getByTestId('command-status').textContent()) === 'acked', { what: 'the replayed command to show acked' });
  });

  it('replays every dead letter a filter matches, and only those', async () => {
    const device = await stack.device('CONSOLE-DEV-5', { busyRate: 1 });
    const ids = [
      await stack.enqueue({ phyId: 'CONSOLE-DEV-5', payload: b64('a'), maxAttempts: 1 }),
      await stack.enqueue({ phyId: 'CONSOLE-DEV-5', payload: b64('b'), maxAttempts: 1 }),
    ];
    // Another device's dead letter, which the filter does not match.
    await stack.device('CONSOLE-DEV-6', { busyRate: 1 });
    const other = await stack.enqueue({ phyId: 'CONSOLE-DEV-6', payload: b64('c'), maxAttempts: 1 });
    await stack.waitAllStatus([...ids, other], 'dead');
    device.setBehaviour({ busyRate: 0 });

    await page.goto(url('/dead-letters?phyId=CONSOLE-DEV-5&reason=BUSY'));
    await page.getByLabel(`Select ${ids[1]}`).waitFor();
    await page.getByRole('button', { name: 'Replay all matching' }).click();
    await page.getByRole('button', { name: 'Confirm: replay every match of the filter' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 2 dead letter' }).waitFor();
    await stack.waitAllStatus(ids, 'acked', 15_000);
    expect((await stack.get(other)).status).toBe('dead');
  });

  it('is readable at phone width', async () => {
    const phone = await browser.newContext({ viewport: PHONE, timezoneId: 'Europe/Berlin', locale: 'en-GB', isMobile: true, hasTouch: true });
    try {
      const small = await phone.newPage();
      await small.goto(url('/'));
      await small.getByLabel('Admin API key').fill(ADMIN_KEY);
      await small.getByRole('button', { name: 'Sign in' }).click();
      await small.getByRole('heading', { name: 'Overview' }).waitFor();
      await waitFor(async () => (await small.getByTestId('replicas').textContent()) === '1', { what: 'the overview at phone width' });
      // Nothing wider than the screen: no sideways scrolling of the page itself.
      expect(await small.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
      await screenshot(small, 'overview-phone');
    } finally {
      await phone.close();
    }
  });

  it('shows the overview with traffic (screenshot)', async () => {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await waitFor(async () => (await page.getByTestId('replicas').textContent()) === '1', { what: 'the overview' });
    // A few seconds of traffic, paced by the chart: each round waits for the chart's next second.
    const chart = page.locator('.sparkline polyline').first();
    for (let round = 0; round < 6; round += 1) {
      const before = await chart.getAttribute('points');
      for (let i = 0; i <= round % 3; i += 1) await stack.enqueue({ phyId: 'CONSOLE-DEV-2', payload: b64(`tick ${round}.${i}`) });
      await waitFor(async () => (await chart.getAttribute('points')) !== before, { what: 'the chart to move on a second' });
    }
    await waitFor(async () => (await page.getByTestId('rate-acked').textContent()) !== '0.0', { timeoutMs: 15_000, what: 'acks counted from the live stream' });
    // A rejected command shows in the feed of notable events.
    await stack.device('CONSOLE-DEV-4', { rejectRate: 1 });
    await stack.enqueue({ phyId: 'CONSOLE-DEV-4', payload: b64('set 999A') });
    await page.locator('.timeline [data-type="command.rejected"]').waitFor({ timeout: 15_000 });
    await screenshot(page, 'overview');
  });
});
