import { postgresBackend } from "./postgres.ts"
import { storageContract } from "./Storage.contract.ts"

storageContract(postgresBackend)
