import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { KeyRing } from '../../src/tokens/keys.js';

describe('KeyRing.lookupFresh', () => {
  it('finds a key another instance created right after this one loaded (within the reload cooldown)', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const a = new KeyRing(store, 'ES256', Date.now, 60_000);
    const b = new KeyRing(store, 'ES256', Date.now, 60_000);
    await a.init(0);
    // b rotates immediately: a's last reload was moments ago.
    await b.init(0);
    const fresh = await b.rotate();
    expect(a.lookup(fresh.kid)).toBeUndefined();
    expect((await a.lookupFresh(fresh.kid))?.kid).toBe(fresh.kid);
    await store.close();
  });

  it('random unknown kids share one reload per second', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    let reads = 0;
    const list = store.listSigningKeys.bind(store);
    store.listSigningKeys = async () => {
      reads++;
      return list();
    };
    const ring = new KeyRing(store, 'ES256', Date.now, 60_000);
    await ring.init(0);
    const before = reads;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ring.lookupFresh(`forged-${i}`)));
    expect(results.every((r) => r === undefined)).toBe(true);
    expect(reads - before).toBe(1);
    await store.close();
  });
});
