import type { Browser, BrowserContext, Page } from 'playwright-core';
import { testRedisUrl, waitFor as waitForAtMost } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from '../e2e/support/dispatcher-process';
import { b64, startStack, type Stack } from '../e2e/support/stack';
import { DESKTOP, focused, launchChromium, layoutShifts, PHONE, recordLayoutShifts, screenshot, sidewaysOverflow, tabThrough } from './browser';

/**
 * A page's data arrives through the API and the live stream from a dispatcher process and an
 * ingress on a machine that may be busy: wait as long as Playwright's own locators do (30 s).
 */
const waitFor: typeof waitForAtMost = (condition, options = {}) => waitForAtMost(condition, { timeoutMs: 30_000, ...options });
jest.setTimeout(120_000);

/** The viewer's zone and locale for every page: the console shows times in the viewer's zone, and the screenshots stay comparable. */
const ZONE = 'Europe/Berlin';
const LOCALE = 'en-GB';

/** `ms` as a datetime-local input's value in ZONE (minutes). */
function zoneInput(ms: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** `ms` as the time of day in ZONE, HH:MM:SS. */
const zoneTime = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

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
  /** Every URL the browser asked for, and every Content-Security-Policy complaint it logged. */
  const requests: string[] = [];
  const policyViolations: string[] = [];
  /** A command the device acked (the timeline test), for the layout checks. */
  let ackedId = '';
  const url = (path: string) => `${dispatcher.url}/console${path}`;
  const admin = async <T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${dispatcher.url}${path}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  const newContext = async (options: Parameters<Browser['newContext']>[0]): Promise<BrowserContext> => {
    const created = await browser.newContext({ timezoneId: ZONE, locale: LOCALE, ...options });
    created.on('request', (request) => void requests.push(request.url()));
    created.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) policyViolations.push(message.text());
    });
    await recordLayoutShifts(created);
    return created;
  };

  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'console' });
    // Both kept as soon as each is up: when one fails to start, afterAll still stops the other (a dispatcher
    // process left running keeps the test worker from exiting).
    const [spawned, launched] = await Promise.allSettled([spawnDispatcher(testRedisUrl(), stack.prefix, stack.env), launchChromium()]);
    if (spawned.status === 'fulfilled') dispatcher = spawned.value;
    if (launched.status === 'fulfilled') browser = launched.value;
    if (spawned.status === 'rejected') throw spawned.reason;
    if (launched.status === 'rejected') throw launched.reason;
    context = await newContext({ viewport: DESKTOP });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    dispatcher?.child.kill('SIGTERM');
    await dispatcher?.exited;
    await stack?.stop();
  });

  const signIn = async (on: Page, key: string) => {
    await on.goto(url('/'));
    await on.getByLabel('Admin API key').fill(key);
    await on.getByRole('button', { name: 'Sign in' }).click();
  };
  const keptNowhereElse = async () => {
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await context.cookies()).toEqual([]);
  };

  it('refuses a wrong key and a key without the admin role with a visible message, and keeps neither', async () => {
    await signIn(page, SEND_KEY);
    await page.getByRole('alert').filter({ hasText: 'lacks the admin role' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await signIn(page, 'not-a-key-of-this-cluster');
    await page.getByRole('alert').filter({ hasText: 'That key was refused' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await keptNowhereElse();
    await screenshot(page, 'login');
  });

  it('signs in with the admin key, keeps it in the session only, and shows the overview with the live replica', async () => {
    await signIn(page, ADMIN_KEY);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await waitFor(async () => (await page.getByTestId('replicas').textContent()) === '1', { what: 'one ingress replica on the overview' });
    // The stack's in-process dispatcher and the dispatcher process serving the console.
    expect(await page.getByTestId('dispatchers').textContent()).toBe('2');
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['outbound.console.apiKey']);
    await keptNowhereElse();
    // Keyboard: the first Tab reaches "skip to content", then the navigation; Enter follows a link.
    expect(await tabThrough(page, ['Skip to content', 'Overview', 'Devices'], 3)).toEqual(['Skip to content', 'Overview', 'Devices']);
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

  it('shows a device come online on its page (replica, since, in the viewer’s zone) and its queue drain, and finds it by prefix', async () => {
    // A command waiting for the device: its coming online is a device.online event in the log.
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-1', payload: b64('set 32A') });
    await waitFor(async () => (await stack.get(id)).waitingFor === 'device', { what: 'the command to wait for its device' });
    await page.goto(url('/devices/CONSOLE-DEV-1'));
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'offline', { what: 'the device page to show offline' });
    await page.getByRole('link', { name: id.slice(0, 8) }).first().waitFor();
    // Live: the queue is fetched again only when the device's event stream says something happened.
    await page.locator('[data-stream="live"]').waitFor();
    await stack.device('CONSOLE-DEV-1');
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'online', { what: 'the device page to show online' });
    await page.getByText('Nothing queued or in flight.').waitFor();
    expect(await page.getByTestId('device-replica').textContent()).toBe('replica-0');
    // Since when, in the viewer's zone (the host runs on UTC, the browser in Berlin).
    const { body: device } = await admin<{ connectedSince: string }>('/v1/devices/CONSOLE-DEV-1');
    const since = await page.getByTestId('connected-since').textContent();
    expect(since).toContain(zoneTime(Date.parse(device.connectedSince)));
    await screenshot(page, 'device');

    await page.getByRole('link', { name: 'Devices' }).click();
    await page.getByLabel('phyId or its start').fill('CONSOLE-DEV');
    await page.getByRole('button', { name: 'Search online devices' }).click();
    await page.getByRole('link', { name: 'CONSOLE-DEV-1' }).waitFor();
    await screenshot(page, 'devices');
  });

  it('lists a device’s queue in delivery order, then cancels all of it by keyboard and shows the cancellations in its history', async () => {
    // Delivery order is priority first (9 first), then age: not the order they were sent in.
    const low = await stack.enqueue({ phyId: 'CONSOLE-DEV-Q', payload: b64('low'), priority: 1 });
    const high = await stack.enqueue({ phyId: 'CONSOLE-DEV-Q', payload: b64('high'), priority: 9 });
    const middle = await stack.enqueue({ phyId: 'CONSOLE-DEV-Q', payload: b64('middle'), priority: 5 });
    const { body: queued } = await admin<{ items: Array<{ id: string }> }>('/v1/devices/CONSOLE-DEV-Q/commands');
    expect(queued.items.map((c) => c.id)).toEqual([high, middle, low]);

    await page.goto(url('/devices/CONSOLE-DEV-Q'));
    const queue = page.getByRole('region', { name: 'Queue (delivery order)' });
    const rows = queue.locator('tbody tr td:first-child a');
    await waitFor(async () => (await rows.count()) === 3, { what: 'three queued commands on the device page' });
    expect(await rows.allTextContents()).toEqual([high, middle, low].map((id) => id.slice(0, 8)));
    await page.locator('[data-stream="live"]').waitFor();

    // By keyboard alone: Tab to the action, Enter, and the focus is on its confirmation.
    await page.locator('#main').focus();
    await tabThrough(page, ['Cancel all queued']);
    await page.keyboard.press('Enter');
    await waitFor(async () => (await focused(page)).name === 'Confirm: cancel every queued command', { what: 'focus on the confirmation' });
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Cancelled 3 queued command(s).' }).waitFor();
    // The focus is not lost to the page when the confirmation goes away.
    await waitFor(async () => (await focused(page)).name === 'Cancel all queued', { what: 'focus back on the action' });
    await queue.getByText('Nothing queued or in flight.').waitFor();
    await stack.waitAllStatus([low, high, middle], 'cancelled', 30_000);
    const history = page.getByRole('region', { name: 'Recent history' });
    await waitFor(async () => (await history.locator('.status-cancelled').count()) === 3, { what: 'three cancelled commands in the history' });
  });

  it('revokes a device’s credentials, which disconnects it, and lifts the revocation', async () => {
    await stack.device('CONSOLE-DEV-R');
    await page.goto(url('/devices/CONSOLE-DEV-R'));
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'online', { what: 'the device page to show online' });
    expect(await page.getByTestId('credentials').textContent()).toBe('derived key');

    await page.getByRole('button', { name: 'Revoke credentials' }).click();
    await page.getByRole('button', { name: 'Confirm: disconnect and refuse this device' }).click();
    await page.getByRole('status').filter({ hasText: 'Revoked' }).waitFor();
    await waitFor(async () => (await page.getByTestId('credentials').textContent()) === 'derived key, revoked', { what: 'the page to show the revocation' });
    await waitFor(async () => (await page.getByTestId('device-state').textContent()) === 'offline', { what: 'the revoked device to show offline' });
    expect((await admin<{ online: boolean; credentials: { revoked: boolean } }>('/v1/devices/CONSOLE-DEV-R')).body).toMatchObject({ online: false, credentials: { revoked: true } });

    await page.getByRole('button', { name: 'Lift revocation' }).click();
    await page.getByRole('button', { name: 'Confirm: let the device connect again' }).click();
    await page.getByRole('status').filter({ hasText: 'Revocation lifted' }).waitFor();
    await waitFor(async () => (await page.getByTestId('credentials').textContent()) === 'derived key', { what: 'the page to show the revocation lifted' });
    expect((await admin<{ credentials: { revoked: boolean } }>('/v1/devices/CONSOLE-DEV-R')).body.credentials.revoked).toBe(false);
  });

  it('fills in a command timeline live as the device takes it: attempt, replica, outcome and timings', async () => {
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-2', payload: b64('set 16A') });
    ackedId = id;
    await page.goto(url(`/commands/${id}`));
    await page.locator('[data-type="command.queued"]').waitFor();
    await waitFor(async () => (await page.getByTestId('command-status').textContent())?.startsWith('queued') ?? false, { what: 'the command page to show queued' });
    await page.locator('[data-stream="live"]').waitFor();
    const before = await layoutShifts(page);
    // Going live moved nothing either: the badge's text changes its width, and it once sat where that moved it (a
    // shift the browser could report after this read, which failed a CI run).
    expect(before.shifts.filter((s) => s.sources.some((source) => source.includes('badge')))).toEqual([]);
    await stack.device('CONSOLE-DEV-2');
    await page.locator('[data-type="command.acked"]').waitFor();
    await page.locator('[data-type="command.delivered"]').waitFor();
    await waitFor(async () => (await page.getByTestId('command-status').textContent()) === 'acked', { what: 'the command page to show acked' });
    // Filling in moved nothing already on the page.
    expect((await layoutShifts(page)).shifts.slice(before.shifts.length)).toEqual([]);

    const delivered = page.locator('[data-type="command.delivered"]');
    expect(await delivered.locator('.event-detail').textContent()).toBe('attempt 1 · via replica-0');
    // Each event after the first says how long after the one before it came, from the event log's times.
    const { body: log } = await admin<{ items: Array<{ type: string; time: number }> }>(`/v1/commands/${id}/events`);
    const time = (type: string) => log.items.find((e) => e.type === type)!.time;
    const answer = time('command.acked') - time('command.delivered');
    const shown = await page.locator('[data-type="command.acked"] .event-elapsed').textContent();
    if (answer < 1_000) expect(shown).toBe(`+${answer} ms`);
    else expect(shown).toMatch(/^\+\d+\.\d s$/);
    expect(await page.locator('[data-type="command.queued"] .event-elapsed').textContent()).toBe('');
    await screenshot(page, 'command');
  });

  it('looks a command up by id and cancels it by keyboard', async () => {
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-C', payload: b64('later') });
    await page.goto(url('/'));
    await page.getByRole('link', { name: 'Commands' }).click();
    await page.getByRole('heading', { name: 'Commands', exact: true }).waitFor();
    // The latest commands, newest first.
    await page.getByRole('region', { name: 'Latest commands' }).locator('tbody tr').first().getByRole('link', { name: id.slice(0, 8) }).waitFor();
    await screenshot(page, 'commands');

    await page.getByLabel('Command id').fill('not-a-command-id');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'A command id is a UUID' }).waitFor();
    await page.getByLabel('Command id').fill(id.toUpperCase());
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Command ${id}` }).waitFor();
    await waitFor(async () => (await page.getByTestId('command-status').textContent())?.startsWith('queued') ?? false, { what: 'the looked-up command to show queued' });

    await page.locator('#main').focus();
    await tabThrough(page, ['Cancel command']);
    await page.keyboard.press('Enter');
    await waitFor(async () => (await focused(page)).name === 'Confirm: cancel it', { what: 'focus on the confirmation' });
    await page.keyboard.press('Enter');
    await waitFor(async () => (await page.getByTestId('command-status').textContent()) === 'cancelled', { what: 'the command page to show cancelled' });
    await page.locator('[data-type="command.cancelled"]').waitFor();
    expect((await stack.get(id)).status).toBe('cancelled');
  });

  it('replays a dead letter from the console and the device acks it', async () => {
    const device = await stack.device('CONSOLE-DEV-3', { busyRate: 1 });
    const id = await stack.enqueue({ phyId: 'CONSOLE-DEV-3', payload: b64('reboot'), maxAttempts: 1 });
    const dead = await stack.waitStatus(id, 'dead', 30_000);
    device.setBehaviour({ busyRate: 0 });

    await page.goto(url('/dead-letters'));
    await page.getByLabel('Device (phyId)').fill('CONSOLE-DEV-3');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    // The unfiltered list may show the row before the filtered one replaces it, and a new list
    // starts with nothing selected: select until the selection holds.
    await waitFor(async () => {
      await page.getByLabel(`Select ${id}`).check();
      return page.getByRole('button', { name: 'Replay 1 selected' }).isVisible();
    }, { what: 'the dead letter selected in the filtered list', intervalMs: 200 });
    await screenshot(page, 'dead-letters');
    await page.getByRole('button', { name: 'Replay 1 selected' }).click();
    await page.getByRole('button', { name: 'Confirm: replay 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1 dead letter' }).waitFor();
    await stack.waitStatus(id, 'acked', 30_000);

    await page.goto(url(`/commands/${id}`));
    await waitFor(async () => (await page.getByTestId('command-status').textContent()) === 'acked', { what: 'the replayed command to show acked' });
    // The timeline keeps the failed attempt and its error beside the replay.
    expect(await page.locator('[data-type="command.dead"] .event-detail').textContent()).toBe(`attempt 1 · ${String(dead.lastError)}`);
    expect(await page.locator('[data-type="command.queued"]').count()).toBe(2);
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
    await stack.waitAllStatus([...ids, other], 'dead', 30_000);
    device.setBehaviour({ busyRate: 0 });

    await page.goto(url('/dead-letters?phyId=CONSOLE-DEV-5&reason=BUSY'));
    await page.getByLabel(`Select ${ids[1]}`).waitFor();
    await page.getByRole('button', { name: 'Replay all matching' }).click();
    await page.getByRole('button', { name: 'Confirm: replay every match of the filter' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 2 dead letter' }).waitFor();
    await stack.waitAllStatus(ids, 'acked', 30_000);
    expect((await stack.get(other)).status).toBe('dead');
  });

  it('filters dead letters by the time they died (entered in the viewer’s zone) and by reason, and purges a selected one', async () => {
    await stack.device('CONSOLE-DEV-7', { busyRate: 1 });
    const [first, second] = [
      await stack.enqueue({ phyId: 'CONSOLE-DEV-7', payload: b64('x'), maxAttempts: 1 }),
      await stack.enqueue({ phyId: 'CONSOLE-DEV-7', payload: b64('y'), maxAttempts: 1 }),
    ];
    await stack.waitAllStatus([first!, second!], 'dead', 30_000);
    const dead = await stack.get(first!);
    const minute = Math.floor(Date.parse(String(dead.updatedAt)) / 60_000) * 60_000;
    const rows = () => page.locator('tbody input[type="checkbox"]').count();
    const filterBy = async (fields: { reason?: string; since?: number; until?: number }) => {
      await page.getByLabel('Reason').fill(fields.reason ?? '');
      await page.getByLabel(`Since (${ZONE})`).fill(fields.since === undefined ? '' : zoneInput(fields.since));
      await page.getByLabel(`Until (${ZONE})`).fill(fields.until === undefined ? '' : zoneInput(fields.until));
      await page.getByRole('button', { name: 'Apply filter' }).click();
    };

    await page.goto(url('/dead-letters'));
    await page.getByLabel('Device (phyId)').fill('CONSOLE-DEV-7');
    // A window around the minute they died, typed as Berlin wall-clock time.
    await filterBy({ since: minute - 60_000, until: minute + 120_000 });
    const search = new URL(page.url()).searchParams;
    expect([search.get('phyId'), search.get('since'), search.get('until')]).toEqual(['CONSOLE-DEV-7', String(minute - 60_000), String(minute + 120_000)]);
    // The other devices' dead letters, listed before the filter, leave.
    await waitFor(async () => (await rows()) === 2, { what: 'the two dead letters of the window' });
    await page.getByLabel(`Select ${second}`).waitFor();
    // A window after they died.
    await filterBy({ since: minute + 120_000, until: minute + 180_000 });
    await page.getByText('No dead letter matches the filter.').waitFor();
    // By reason: a prefix of the error they died with, and one they did not.
    await filterBy({ reason: 'NOT-A-REASON' });
    await page.getByText('No dead letter matches the filter.').waitFor();
    await filterBy({ reason: String(dead.lastError).slice(0, 4) });
    await page.getByLabel(`Select ${second}`).waitFor();
    await page.getByLabel(`Select ${first}`).waitFor();
    expect(await rows()).toBe(2);

    await page.getByLabel(`Select ${first}`).check();
    await page.getByRole('button', { name: 'Purge 1 selected' }).click();
    await page.getByRole('button', { name: 'Confirm: purge 1' }).click();
    await page.getByRole('status').filter({ hasText: 'Purged 1 dead letter(s).' }).waitFor();
    await waitFor(async () => (await rows()) === 1, { what: 'the purged dead letter to leave the list' });
    expect(await page.getByLabel(`Select ${second}`).count()).toBe(1);
    expect((await admin(`/v1/commands/${first}`)).status).toBe(404);
    expect((await stack.get(second!)).status).toBe('dead');
  });

  it('reaches every page’s main controls by Tab, each with a visible focus ring, and works a search by keyboard alone', async () => {
    const pages: Array<[string, string, string[]]> = [
      ['/devices', 'Devices', ['Overview', 'Devices', 'Commands', 'Dead letters', 'Sign out', 'phyId or its start', 'Search online devices']],
      ['/commands', 'Commands', ['Command id', 'Open', 'Status']],
      ['/dead-letters', 'Dead letters', ['Device (phyId)', 'Reason', `Since (${ZONE})`, `Until (${ZONE})`, 'Apply filter', 'Select all shown']],
    ];
    for (const [path, heading, controls] of pages) {
      await page.goto(url(path));
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      if (path === '/dead-letters') await page.getByLabel('Select all shown').waitFor();
      await tabThrough(page, controls);
    }

    await page.goto(url('/devices'));
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await tabThrough(page, ['phyId or its start']);
    await page.keyboard.type('CONSOLE-DEV-1');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'CONSOLE-DEV-1', exact: true }).waitFor();
    await tabThrough(page, ['CONSOLE-DEV-1']);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Device CONSOLE-DEV-1' }).waitFor();
  });

  /** Each page, and what shows that it has its data. */
  const everyPage = (): Array<[string, (on: Page) => Promise<unknown>]> => [
    ['/', (on) => waitFor(async () => (await on.getByTestId('replicas').textContent()) === '1', { what: 'the overview' })],
    ['/devices?prefix=CONSOLE-DEV', (on) => on.getByRole('link', { name: 'CONSOLE-DEV-1', exact: true }).waitFor()],
    ['/devices/CONSOLE-DEV-1', (on) => waitFor(async () => (await on.getByTestId('device-state').textContent()) === 'online', { what: 'the device page' })],
    ['/commands', (on) => on.getByRole('region', { name: 'Latest commands' }).locator('tbody tr').first().waitFor()],
    [`/commands/${ackedId}`, (on) => on.locator('[data-type="command.acked"]').waitFor()],
    ['/dead-letters', (on) => on.getByLabel('Select all shown').waitFor()],
  ];

  it('fits every page into 1280×800 without sideways scrolling, with the overview’s figures in the first screen', async () => {
    for (const [path, ready] of everyPage()) {
      await page.goto(url(path));
      await ready(page);
      expect({ path, overflow: await sidewaysOverflow(page) }).toEqual({ path, overflow: 0 });
      expect(await page.evaluate<number>('parseFloat(getComputedStyle(document.body).fontSize)')).toBeGreaterThanOrEqual(14);
    }
    await page.goto(url('/'));
    await everyPage()[0]![1](page);
    for (const figure of ['rate-queued', 'rate-acked', 'depth', 'dead', 'replicas', 'dispatchers', 'devices-online']) {
      const box = await page.getByTestId(figure).boundingBox();
      expect({ figure, inFirstScreen: box !== null && box.y + box.height <= DESKTOP.height }).toEqual({ figure, inFirstScreen: true });
    }
  });

  it('is readable on a phone: every page fits 390 px without sideways scrolling', async () => {
    const phone = await newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    try {
      const small = await phone.newPage();
      await signIn(small, ADMIN_KEY);
      await small.getByRole('heading', { name: 'Overview' }).waitFor();
      for (const [path, ready] of everyPage()) {
        await small.goto(url(path));
        await ready(small);
        expect({ path, overflow: await sidewaysOverflow(small) }).toEqual({ path, overflow: 0 });
        if (path === '/') await screenshot(small, 'overview-phone');
        if (path.startsWith('/commands/')) await screenshot(small, 'command-phone');
      }
    } finally {
      await phone.close();
    }
  });

  it('shows the overview with traffic live, its figures matching the API, without moving anything as it updates', async () => {
    await page.goto(url('/'));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await waitFor(async () => (await page.getByTestId('replicas').textContent()) === '1', { what: 'the overview' });
    await page.locator('[data-stream="live"]').waitFor();
    // Every figure loaded: from here on, updates only.
    for (const figure of ['depth', 'dead', 'devices-online']) await waitFor(async () => (await page.getByTestId(figure).textContent()) !== '—', { what: `the overview's ${figure}` });
    const before = await layoutShifts(page);
    const chart = page.locator('.sparkline polyline').first();

    // A few seconds of traffic, paced by the chart: each round waits for the chart's next second.
    for (let round = 0; round < 6; round += 1) {
      const previous = await chart.getAttribute('points');
      for (let i = 0; i <= round % 3; i += 1) await stack.enqueue({ phyId: 'CONSOLE-DEV-2', payload: b64(`tick ${round}.${i}`) });
      await waitFor(async () => (await chart.getAttribute('points')) !== previous, { what: 'the chart to move on a second' });
    }
    await waitFor(async () => (await page.getByTestId('rate-queued').textContent()) !== '0.0', { what: 'enqueues counted from the live stream' });
    await waitFor(async () => (await page.getByTestId('rate-acked').textContent()) !== '0.0', { what: 'acks counted from the live stream' });
    // Rejected commands show in the feed of notable events, newest first.
    await stack.device('CONSOLE-DEV-4', { rejectRate: 1 });
    const rejected = page.locator('.timeline [data-type="command.rejected"]');
    for (const count of [1, 2]) {
      await stack.enqueue({ phyId: 'CONSOLE-DEV-4', payload: b64(`set ${count}99A`) });
      await waitFor(async () => (await rejected.count()) === count, { what: `${count} rejected command(s) in the feed` });
    }

    // Queue depth, dead letters and devices online as the API has them (the page refreshes them every 5 and 10 s).
    const fromApi = async () => {
      const { body: stats } = await admin<{ total: { pending: number; inflight: number; delayed: number; waitingForDevice: number; dead: number } }>('/v1/stats');
      const { body: cluster } = await admin<{ replicas: Array<{ devices: number }> }>('/v1/cluster');
      const t = stats.total;
      return { depth: String(t.pending + t.inflight + t.delayed + t.waitingForDevice), dead: String(t.dead), online: String(cluster.replicas.reduce((sum, r) => sum + r.devices, 0)) };
    };
    const shown = async () => ({ depth: await page.getByTestId('depth').textContent(), dead: await page.getByTestId('dead').textContent(), online: await page.getByTestId('devices-online').textContent() });
    await waitFor(async () => JSON.stringify(await shown()) === JSON.stringify(await fromApi()), { what: 'the overview figures to match the API' });
    expect(Number((await shown()).online)).toBeGreaterThanOrEqual(5);
    expect(Number((await shown()).dead)).toBeGreaterThanOrEqual(2);

    // Live figures, chart and feed updated for seconds: nothing on the page moved.
    const after = await layoutShifts(page);
    expect(after.shifts.slice(before.shifts.length)).toEqual([]);
    await screenshot(page, 'overview');
    // The recorder does see a shift: a block pushed in above the figures moves them.
    await page.evaluate(`document.getElementById('main').prepend(Object.assign(document.createElement('div'), { style: 'height: 120px' }))`);
    await waitFor(async () => (await layoutShifts(page)).shifts.length > after.shifts.length, { what: 'the recorder to see the pushed-down figures' });
  });

  it('fetched nothing but its own origin, and the browser reported no policy violation', () => {
    const own = `${dispatcher.url}/`;
    expect(requests.filter((u) => !u.startsWith(own))).toEqual([]);
    expect(requests.filter((u) => u.startsWith(`${own}console/assets/`)).length).toBeGreaterThanOrEqual(2);
    expect(requests.filter((u) => u.startsWith(`${own}v1/events`)).length).toBeGreaterThan(0);
    expect(policyViolations).toEqual([]);
  });
});
