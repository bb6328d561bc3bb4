import { fileBackend, memoryBackend } from "./harness.ts"
import { storageContract } from "./Storage.contract.ts"

storageContract(fileBackend)
storageContract(memoryBackend)
