// Preloaded into measured processes (node --import): reports peak RSS (KiB) and the CPU time of
// the whole process (ms, user + system, all threads) on exit, as JSON.
import fs from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    fs.writeFileSync(file, JSON.stringify({ maxRssKb: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000 }));
  });
}
