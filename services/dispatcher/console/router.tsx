import type { ComponentChildren, HTMLAttributes, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Client-side routes under /console/ (the dispatcher answers index.html for every one of them). */
export const BASE = '/console';

function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return path === '' ? '/' : path;
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((listener) => listener()));

export function navigate(path: string, replace = false): void {
  const url = `${BASE}${path}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((listener) => listener());
  window.scrollTo(0, 0);
}

/** The path after /console and its query, re-rendering on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return { path: currentPath(), search: new URLSearchParams(location.search) };
}

/** A real link (keyboard, middle-click, copy link all work) that navigates in place on a plain click. */
export function Link(props: { href: string; children: ComponentChildren; current?: boolean; class?: string } & Pick<HTMLAttributes<HTMLAnchorElement>, 'title'>): JSX.Element {
  const { href, children, current, ...rest } = props;
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a {...rest} href={`${BASE}${href}`} onClick={onClick} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}
