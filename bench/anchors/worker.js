// The worker process of an anchor measurement (forked by driver.js): one queue's worker with
// a no-op handler. IPC out: `ready`, `first` (first handler call), `handled` (the target
// count reached), `closed`. IPC in: `start`, `stop`.
//
//   argv[2] = JSON { anchor, ctx, target }
import { loadAnchor } from './adapter.js';

/** @type {{ anchor: string, ctx: import('./adapter.js').AnchorContext, target: number }} */
const cfg = JSON.parse(process.argv[2] ?? '{}');
const A = await loadAnchor(cfg.anchor);
/** @param {object} m */
const tell = (m) => process.send?.(m);

let count = 0;
const w = await A.worker(cfg.ctx, () => {
  count++;
  if (count === 1) tell({ t: 'first' });
  if (count === cfg.target) tell({ t: 'handled' });
});
process.on('message', (/** @type {{ t: string }} */ m) => {
  const act = m.t === 'start' ? w.start().then(() => tell({ t: 'started' })) : w.close();
  act.then(
    () => {
      if (m.t === 'stop') {
        tell({ t: 'closed', count });
        setTimeout(() => process.exit(0), 50);
      }
    },
    (/** @type {unknown} */ err) => {
      console.error('anchor worker failed', err);
      process.exit(1);
    },
  );
});
// The driver went away: nothing left to work for.
process.on('disconnect', () => process.exit(0));
tell({ t: 'ready' });
