import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: {
      forks: {
        // s3rver (started in-process by the tests) makes its ListObjectsV2 continuation tokens
        // with DES, which OpenSSL 3 disables: without this, any listing of more than 1,000 keys
        // is a 500 InternalError.
        execArgv: ["--openssl-legacy-provider"]
      }
    }
  }
})
