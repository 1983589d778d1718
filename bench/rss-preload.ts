// Preloaded into measured processes (node --import): reports peak RSS (KiB) on exit.
import fs from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => fs.writeFileSync(file, String(process.resourceUsage().maxRSS)));
