/**
 * The flags every Chromium test launches Debian's /usr/bin/chromium with (headless, as root, no
 * network of its own: the machine's notes list them). Tests whose pages use `localhost` (a passkey
 * RP ID, a cookie host apart from 127.0.0.1) add LOCALHOST_TO_LOOPBACK.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The servers listen on 127.0.0.1; the pages are http://localhost:<port>. */
export const LOCALHOST_TO_LOOPBACK = '--host-resolver-rules=MAP localhost 127.0.0.1';
