/**
 * The processes a run starts, seen from outside: each test command records its process group,
 * and the test asks /proc which of those groups still has a running member.
 */
import * as fs from "node:fs"
import { lines } from "./RunCli.js"

/** A command that records its process group (its shell is the group's leader) in `file`. */
export const recordingGroup = (file: string, then: string) => `echo $$ >> '${file}'; ${then}`

/** The processes still running (zombies excluded) in the process groups recorded in `file`. */
export const liveGroups = (file: string) => {
  const groups = new Set((fs.existsSync(file) ? lines(fs.readFileSync(file, "utf8")) : []).map(Number))
  return fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after ")".
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return state !== "Z" && groups.has(Number(pgrp)) ? [Number(pid)] : []
    } catch {
      return []
    }
  })
}

/** Resolves once `file` has at least `count` lines. */
export const waitForLines = async (file: string, count: number) => {
  while (!fs.existsSync(file) || lines(fs.readFileSync(file, "utf8")).length < count) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The live processes (zombies excluded) with `text` as one argument of their command line. */
export const processesWith = (text: string) =>
  fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return []
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(text) ? [Number(pid)] : []
    } catch {
      return []
    }
  })
