// Reads multi-document YAML for the deploy tests with the `yaml` package; a syntax error throws.
import { parseAllDocuments } from "yaml"

/** Every document of a YAML text, as plain values; throws on a syntax error. */
export const parseYamlDocuments = (text: string): ReadonlyArray<unknown> =>
  parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(document.errors.map((e) => e.message).join("; "))
    return document.toJS()
  })
