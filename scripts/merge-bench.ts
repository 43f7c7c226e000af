/**
 * The cost of each merge on this machine: a generated object of 2,000,000 lines (27 MiB) cut
 * into 8 pieces by `split -n l/8` (the run's cut), the command run on each piece, then the
 * pieces' outputs merged (`--merge auto`) against the command over the whole object: wall
 * times, and whether the bytes are the same. `npx tsx scripts/merge-bench.ts ['CMD' ...]`.
 * Its files stay in /tmp/s3split-merge-bench (remove it when done).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { execSync } from "node:child_process"
import * as fs from "node:fs"
import { merge } from "../src/Merge.js"
import { autoMerge } from "../src/MergeMode.js"

const dir = "/tmp/s3split-merge-bench"
fs.mkdirSync(dir, { recursive: true })
const input = `${dir}/input`
const N = 8
const env = { ...process.env, LC_ALL: "C" }
const sh = (cmd: string) => execSync(cmd, { env, shell: "/bin/sh", maxBuffer: 1 << 30 })
if (!fs.existsSync(input)) sh(`awk 'BEGIN { srand(7); for (i = 0; i < 2000000; i++) printf "w%d %d\\n", int(rand() * 200000), int(rand() * 1000000) }' > ${input}`)
sh(`rm -f ${dir}/part-*; split -n l/${N} -d -a 2 ${input} ${dir}/part-`)
const size = fs.statSync(input).size
const time = <A>(f: () => A): [A, number] => { const t = performance.now(); const a = f(); return [a, performance.now() - t] }
const timeP = async <A>(f: () => Promise<A>): Promise<[A, number]> => { const t = performance.now(); const a = await f(); return [a, performance.now() - t] }

for (const command of (process.argv.length > 2 ? process.argv.slice(2) : ["sort", "sort -n -k2", "sort | uniq -c", "uniq", "wc -l", "tail -n 10", "head -n 10"])) {
  const [expected, sequential] = time(() => sh(`(${command}) < ${input}`))
  const outputs = Array.from({ length: N }, (_, i) => sh(`(${command}) < ${dir}/part-${String(i).padStart(2, "0")}`))
  outputs.forEach((o, i) => fs.writeFileSync(`${dir}/out-${i}`, o))
  const opened: Array<number> = []
  const chunkOutputs = {
    count: N,
    stream: (i: number) => Stream.suspend(() => { opened.push(i); return Stream.fromIterable(Array.from({ length: Math.ceil(outputs[i]!.length / 65536) }, (_, k) => outputs[i]!.subarray(k * 65536, (k + 1) * 65536))) }),
    file: (i: number) => Effect.succeed(`${dir}/out-${i}`)
  }
  const mode = autoMerge(command)
  const [merged, mergeMs] = await timeP(() => Effect.runPromise(Stream.runCollect(merge(mode, chunkOutputs, { env })).pipe(Effect.map((c) => Buffer.concat(Chunk.toArray(c))))))
  const outBytes = outputs.reduce((s, o) => s + o.length, 0)
  console.log(`${command.padEnd(16)} mode=${mode._tag.padEnd(9)} sequential ${sequential.toFixed(0).padStart(6)} ms  merge ${mergeMs.toFixed(0).padStart(6)} ms  outputs ${(outBytes / 2 ** 20).toFixed(1)} MiB  same bytes: ${Buffer.compare(merged, expected) === 0}  outputs opened: ${opened.length === 0 ? "files" : opened.length}`)
}
console.log(`input ${(size / 2 ** 20).toFixed(1)} MiB, ${N} chunks, nproc ${sh("nproc").toString().trim()}, load ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`)
