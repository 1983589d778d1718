/**
 * `npm run bench`: prints one table per area, each with its baseline measured in the same run.
 * `npm run bench -- reconcile 100,1000` runs one area at chosen sizes.
 */
import { benchReconcile, benchStartup } from './reconcile.js';
import { benchSimulate } from './simulate.js';
import { benchEngine } from './engine.js';
import { benchFides } from './fides.js';

const [only, sizesArg] = process.argv.slice(2);
const sizes = sizesArg ? sizesArg.split(',').map(Number) : [100, 1000, 2000];
const areas: Record<string, () => Promise<string> | string> = {
  startup: () => benchStartup(),
  reconcile: () => benchReconcile(sizes),
  engine: () => benchEngine(),
  simulate: () => benchSimulate(),
  fides: () => benchFides(sizesArg ? Number(sizesArg) : 500),
};
for (const [name, run] of Object.entries(areas)) {
  if (only && only !== name) continue;
  console.log(`${await run()}\n`);
}
