import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { UsageError } from "../src/Errors.js"
import { autoMerge, chooseMerge, Concat, describe as describeMode, Head, MergeMode, parseMergeOption, Reduce, SortMerge, SortUniq, Sum, Tail, Uniq } from "../src/MergeMode.js"

describe("autoMerge reads the last stage of the pipeline", () => {
  const table: Array<[string, MergeMode]> = [
    ["sort", new SortMerge({ flags: [], assignments: [] })],
    ["sort -n -k2", new SortMerge({ flags: ["-n", "-k", "2"], assignments: [] })],
    ["sort -rnk2 -t,", new SortMerge({ flags: ["-r", "-n", "-k", "2", "-t", ","], assignments: [] })],
    ["sort -t ',' -k 2,2 --reverse", new SortMerge({ flags: ["-t", ",", "-k", "2,2", "-r"], assignments: [] })],
    ["sort -u", new SortMerge({ flags: ["-u"], assignments: [] })],
    ["sort -S 1G --parallel=4 -T /tmp -f", new SortMerge({ flags: ["-f"], assignments: [] })],
    ["LC_ALL=C sort -k2", new SortMerge({ flags: ["-k", "2"], assignments: ["LC_ALL=C"] })],
    ["/usr/bin/sort -", new SortMerge({ flags: [], assignments: [] })],
    ["sort 2>/dev/null", new SortMerge({ flags: [], assignments: [] })],
    ["cut -f1 | tr A-Z a-z | sort", new SortMerge({ flags: [], assignments: [] })],
    ["wc -l", new Sum()],
    ["wc", new Sum()],
    ["wc -lwc", new Sum()],
    ["wc --chars", new Sum()],
    ["grep -c x", new Sum()],
    ["grep -c x || true", new Sum()],
    ["grep -ic -e a -e b", new Sum()],
    ["sed 's/a/b/g' | grep -vc '^#'", new Sum()],
    ["uniq", new Uniq({ count: false })],
    ["uniq -c", new Uniq({ count: true })],
    ["cut -d, -f2 | uniq --count", new Uniq({ count: true })],
    ["sort | uniq -c", new SortUniq({ flags: [], assignments: [], count: true })],
    ["sort -k2 | uniq", new SortUniq({ flags: ["-k", "2"], assignments: [], count: false })],
    ["head -n 5", new Head({ k: 5 })],
    ["head -5", new Head({ k: 5 })],
    ["head -n5", new Head({ k: 5 })],
    ["grep -a err | head --lines=10", new Head({ k: 10 })],
    ["tail -n 5", new Tail({ k: 5 })],
    ["tail -3", new Tail({ k: 3 })]
  ]
  for (const [command, mode] of table) {
    it(`${command} -> ${describeMode(mode)}`, () => {
      expect(autoMerge(command)).toEqual(mode)
    })
  }

  const concat = [
    // Not one of the recognised commands, or flags that change what a merge would need.
    "cat",
    "grep x",
    "awk '{ n++ } END { print n }'",
    "sort -R",
    "sort -c",
    "sort -m",
    "sort -o out",
    "wc -L",
    "grep -c x file.txt",
    "grep -cm 3 x",
    "uniq -d",
    "uniq -i",
    "head -n -5",
    "head -c 100",
    "tail -n +5",
    "tail -f",
    // Operands: the command reads a file, not its chunk.
    "sort data.txt",
    "wc -l /etc/passwd",
    // An earlier stage that is not line-local: the last stage does not see pieces of its sequential input.
    "sort | head -n 5",
    "sort | uniq -c | sort -rn | head -n 10",
    "head -n 3 | wc -l",
    "awk '{ print $2 }' | sort",
    "tr -s ' ' | sort",
    "tr -d '\\n' | wc -c",
    "cat -n | tail -n 5",
    "sed -n '1p' | wc -l",
    "sort -u | uniq -c",
    // What cannot be known without running it, or is not one pipeline.
    "sort -k$KEY",
    "sort > out.txt",
    "sort 2>&1",
    "(sort)",
    "sort; echo done",
    "sort && echo done",
    "sort &",
    "grep -c x || echo none",
    "sort 'unclosed",
    ""
  ]
  for (const command of concat) {
    it(`${JSON.stringify(command)} -> concat`, () => {
      expect(autoMerge(command)).toEqual(new Concat())
    })
  }
})

describe("describe", () => {
  it("says what the merge does as a command a person could type", () => {
    expect(describeMode(autoMerge("sort -t '\t' -k2,2n"))).toBe("sort -m -t '\t' -k 2,2n")
    expect(describeMode(autoMerge("LC_ALL=C sort | uniq -c"))).toBe("LC_ALL=C sort -m | uniq -c")
    expect(describeMode(new Reduce({ command: "sort -m \"$@\"" }))).toBe("reduce: sort -m \"$@\"")
    expect(describeMode(new Concat())).toBe("concat")
    expect(describeMode(new Head({ k: 10 }))).toBe("head -n 10")
  })

  it("every mode survives an encode/decode round trip", () => {
    const modes: Array<MergeMode> = [
      new Concat(),
      new Sum(),
      new SortMerge({ flags: ["-n"], assignments: ["LC_ALL=C"] }),
      new SortUniq({ flags: [], assignments: [], count: true }),
      new Uniq({ count: false }),
      new Head({ k: 3 }),
      new Tail({ k: 0 }),
      new Reduce({ command: "cat \"$@\"" })
    ]
    for (const mode of modes) {
      expect(Schema.decodeUnknownSync(MergeMode)(JSON.parse(JSON.stringify(Schema.encodeSync(MergeMode)(mode))))).toEqual(mode)
    }
  })
})

describe("--merge and --reduce", () => {
  it("--merge takes concat, sum or auto", () => {
    expect(parseMergeOption("concat")).toEqual(Either.right("concat"))
    expect(parseMergeOption("sum")).toEqual(Either.right("sum"))
    expect(parseMergeOption("auto")).toEqual(Either.right("auto"))
    const bad = parseMergeOption("sort")
    expect(Either.isLeft(bad)).toBe(true)
    expect(Either.getLeft(bad).pipe((left) => left._tag === "Some" ? left.value.message : "")).toBe("--merge must be concat, sum or auto; got \"sort\"")
  })

  it("chooses the merge from the options", () => {
    expect(chooseMerge({ command: "sort" })).toEqual(Either.right(new Concat()))
    expect(chooseMerge({ merge: "concat", command: "sort" })).toEqual(Either.right(new Concat()))
    expect(chooseMerge({ merge: "sum", command: "sort" })).toEqual(Either.right(new Sum()))
    expect(chooseMerge({ merge: "auto", command: "sort -n" })).toEqual(Either.right(new SortMerge({ flags: ["-n"], assignments: [] })))
    expect(chooseMerge({ reduce: "sort -m \"$@\"", command: "sort" })).toEqual(Either.right(new Reduce({ command: "sort -m \"$@\"" })))
    expect(chooseMerge({ merge: "concat", reduce: "cat \"$@\"", command: "sort" })).toEqual(Either.right(new Reduce({ command: "cat \"$@\"" })))
  })

  it("--reduce with a --merge other than concat, or an empty --reduce, is a usage error", () => {
    for (const options of [{ merge: "sum" as const, reduce: "cat", command: "wc" }, { merge: "auto" as const, reduce: "cat", command: "wc" }, { reduce: "  ", command: "wc" }]) {
      const chosen = chooseMerge(options)
      expect(Either.isLeft(chosen)).toBe(true)
      if (Either.isLeft(chosen)) expect(chosen.left).toBeInstanceOf(UsageError)
    }
    const both = chooseMerge({ merge: "sum", reduce: "cat", command: "wc" })
    expect(Either.isLeft(both) && both.left.message).toBe("give either --merge sum or --reduce, not both")
  })
})
