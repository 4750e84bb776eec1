// The admin token: the coordinator prints the dashboard URL as …/dashboard.html#admin=<token>.
// The page takes the token from the fragment, removes it from the address bar (so it is not
// shared by a screenshot or a projector), and keeps it for this browser tab in sessionStorage.

const STORAGE_KEY = 'flock:adminToken';

/** Splits "#admin=abc&x=1" into the token and what remains of the fragment ("#x=1"). */
export function splitAdminFragment(hash: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('admin');
  params.delete('admin');
  const rest = params.toString();
  return { token: token === null || token.trim() === '' ? null : token.trim(), rest: rest === '' ? '' : `#${rest}` };
}

/** Reads the token from the address bar (then removes it there) or from this tab's storage. */
export function takeAdminToken(): string | null {
  const { token, rest } = splitAdminFragment(location.hash);
  if (token !== null) {
    saveAdminToken(token);
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest}`);
    return token;
  }
  return sessionStorage.getItem(STORAGE_KEY);
}

export function saveAdminToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, token);
}
