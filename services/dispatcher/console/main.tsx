import './style.css';
import { render, type JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { storedKey, storeKey, whenUnauthorized } from './api';
import { Command, CommandLookup } from './pages/command';
import { DeadLetters } from './pages/dead-letters';
import { Device } from './pages/device';
import { Devices } from './pages/devices';
import { Login } from './pages/login';
import { Overview } from './pages/overview';
import { Link, useLocation } from './router';

const NAV = [
  { href: '/', label: 'Overview', match: (p: string) => p === '/' },
  { href: '/devices', label: 'Devices', match: (p: string) => p.startsWith('/devices') },
  { href: '/commands', label: 'Commands', match: (p: string) => p.startsWith('/commands') },
  { href: '/dead-letters', label: 'Dead letters', match: (p: string) => p.startsWith('/dead-letters') },
];

function page(path: string): { title: string; view: JSX.Element } {
  const device = /^\/devices\/([^/]+)$/.exec(path);
  if (device) return { title: 'Device', view: <Device phyId={decodeURIComponent(device[1])} key={device[1]} /> };
  const command = /^\/commands\/([^/]+)$/.exec(path);
  if (command) return { title: 'Command', view: <Command id={decodeURIComponent(command[1])} key={command[1]} /> };
  switch (path) {
    case '/':
      return { title: 'Overview', view: <Overview /> };
    case '/devices':
      return { title: 'Devices', view: <Devices /> };
    case '/commands':
      return { title: 'Commands', view: <CommandLookup /> };
    case '/dead-letters':
      return { title: 'Dead letters', view: <DeadLetters /> };
    default:
      return {
        title: 'Not found',
        view: (
          <>
            <h1>Not found</h1>
            <p>
              The console has no page at {path}. <Link href="/">Go to the overview</Link>.
            </p>
          </>
        ),
      };
  }
}

function App(): JSX.Element {
  const [signedIn, setSignedIn] = useState(storedKey() !== null);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const { path } = useLocation();
  useEffect(() => {
    whenUnauthorized(() => {
      storeKey(null);
      setNotice('The API refused the key (it may have been rotated). Sign in again.');
      setSignedIn(false);
    });
  }, []);
  const current = page(path);
  useEffect(() => {
    document.title = `${current.title} · Outbound console`;
  }, [current.title]);
  // After an in-page navigation, move focus to the new content (as a page load would) so the
  // keyboard and screen readers start there; not on the first render.
  const firstPath = useRef(path);
  useEffect(() => {
    if (path !== firstPath.current) document.getElementById('main')?.focus();
    firstPath.current = '';
  }, [path]);
  if (!signedIn) return <Login notice={notice} onSignedIn={() => (setNotice(undefined), setSignedIn(true))} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Outbound</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <Link href={item.href} current={item.match(path)}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="secondary sign-out"
          onClick={() => {
            storeKey(null);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {current.view}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
