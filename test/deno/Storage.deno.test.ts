import { storageContract } from "../storage/Storage.contract.ts"
import { denoFileBackend, denoKvBackend } from "./backends.ts"

storageContract(denoFileBackend)
storageContract(denoKvBackend)
