// Run in its own process by test/integration/code-cache.test.ts (V8 keeps what it compiled in
// memory, so a second load in the same process would not read the cache file at all):
//   node --import tsx test/helpers/code-cache-load.ts BUNDLE CACHE_DIR|- KIND
// prints {"cache": "used"|"rejected"|"none", "answer": <the bundle's answer()>} and saves the cache.
import { loadWithCodeCache } from "../../src/boot/code-cache.js";

const [bundle, dir, kind] = process.argv.slice(2);
const loaded = loadWithCodeCache(bundle!, dir === "-" ? undefined : dir, kind!);
const answer = (loaded.exports as { answer: () => number }).answer();
loaded.save();
console.log(JSON.stringify({ cache: loaded.cache, answer }));
