// `npm run tabs -- --count 8 --url http://localhost:8080/?room=ABC123 [--backend wasm] [--webgpu]`
// Opens that many headless Chromium tabs that join a running coordinator, so one
// laptop can fill a classroom demo. The same launcher the e2e tests use. Ctrl-C closes them.
import { launchChromium, openTabs } from '../harness/browser.ts';

interface TabsArgs {
  count: number;
  url: string;
  backend: string | null;
  webgpu: boolean;
}

const USAGE = 'usage: npm run tabs -- --count 8 --url http://localhost:8080/?room=CODE [--backend wasm|webgl|webgpu|cpu] [--webgpu]';

export function parseTabsArgs(argv: string[]): TabsArgs {
  const args: TabsArgs = { count: 4, url: 'http://localhost:8080/', backend: null, webgpu: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--count') args.count = Number(value());
    else if (flag === '--url') args.url = value();
    else if (flag === '--backend') args.backend = value();
    else if (flag === '--webgpu') args.webgpu = true;
    else throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  if (!Number.isInteger(args.count) || args.count < 1 || args.count > 64) throw new Error(`--count must be 1..64\n${USAGE}`);
  try {
    new URL(args.url);
  } catch {
    throw new Error(`--url is not a URL: ${args.url}\n${USAGE}`);
  }
  return args;
}

/** The participant URL for each tab: the given one, plus ?backend= when asked. */
export function tabUrl(args: TabsArgs): string {
  const url = new URL(args.url);
  if (args.backend) url.searchParams.set('backend', args.backend);
  return url.toString();
}

async function main(): Promise<void> {
  const args = parseTabsArgs(process.argv.slice(2));
  const browser = await launchChromium({ webgpu: args.webgpu || args.backend === 'webgpu' });
  const url = tabUrl(args);
  console.log(`opening ${args.count} tab(s) at ${url}`);
  const tabs = await openTabs(browser, url, args.count);
  const close = async () => {
    await browser.close();
    process.exit(0);
  };
  process.once('SIGINT', close);
  process.once('SIGTERM', close);
  // A status line every few seconds: what each tab is doing.
  for (;;) {
    const views = await Promise.all(
      tabs.map((page) =>
        page
          .evaluate(() => {
            const f = (window as unknown as { flock?: { backend: string | null; status: string; round: number } }).flock;
            return f ? `${f.backend ?? '…'}:${f.status}` : 'loading';
          })
          .catch(() => 'closed'),
      ),
    );
    console.log(`${new Date().toLocaleTimeString()}  ${views.join('  ')}`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`tabs: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
