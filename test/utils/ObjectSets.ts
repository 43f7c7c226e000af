/**
 * Random many-object sources for the CLI tests: objects from 0 bytes up, some without a final
 * newline, some one long line, some gzip (one or two members), named so that key order is
 * their order. The oracle is `cat` of the objects, gunzipped.
 */
import * as FastCheck from "effect/FastCheck"
import * as Zlib from "node:zlib"
import { adversarialBytes } from "./Reference.js"

export interface TestObject {
  /** The name under the prefix or directory: `obj-NNN.log` or `obj-NNN.log.gz`. */
  readonly name: string
  /** The bytes stored (gzip for a `.gz` name). */
  readonly stored: Buffer
  /** What `cat` (or `gzip -dc`) of it gives. */
  readonly content: Buffer
}

const contents: FastCheck.Arbitrary<Buffer> = FastCheck.oneof(
  { arbitrary: adversarialBytes.map((bytes) => Buffer.from(bytes)), weight: 4 },
  { arbitrary: FastCheck.constant(Buffer.alloc(0)), weight: 1 },
  // One long line, no newline at all.
  { arbitrary: FastCheck.integer({ min: 1, max: 5000 }).map((n) => Buffer.alloc(n, 0x4c)), weight: 1 }
)

const gzip = (content: Buffer, members: number): Buffer => {
  if (members === 1 || content.length < 2) return Zlib.gzipSync(content)
  const half = content.length >> 1
  return Buffer.concat([Zlib.gzipSync(content.subarray(0, half)), Zlib.gzipSync(content.subarray(half))])
}

/** Sets of 1 to `maxObjects` objects (about a third gzip). */
export const objectSets = (maxObjects = 8): FastCheck.Arbitrary<Array<TestObject>> =>
  FastCheck.array(
    FastCheck.record({ content: contents, compressed: FastCheck.integer({ min: 0, max: 5 }) }),
    { minLength: 1, maxLength: maxObjects }
  ).map((drawn) =>
    drawn.map(({ compressed, content }, i) => {
      const base = `obj-${String(i).padStart(3, "0")}.log`
      return compressed >= 4
        ? { name: `${base}.gz`, stored: gzip(content, compressed - 3), content }
        : { name: base, stored: content, content }
    })
  )

/** `cat` of the objects, gunzipped, in order. */
export const oracle = (objects: ReadonlyArray<TestObject>): Buffer => Buffer.concat(objects.map((object) => object.content))
