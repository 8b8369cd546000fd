// The job-file functions (src/job/HclFunctions.ts) against the real ones: each call is evaluated by
// test/oracle/hcleval (go-cty's stdlib under jobspec2's names, test/support/HclOracle.ts) and by ours, and must
// give the same value, or fail in both.
import { describe, expect, it } from "@effect/vitest"
import * as os from "node:os"
import { jobFunctions } from "../../src/job/HclFunctions.js"
import type { Value } from "../../src/job/HclEval.js"
import { oracle, ourResult } from "../support/HclOracle.js"

const calls: ReadonlyArray<string> = [
  // numbers
  "abs(-3)", "abs(3)", "abs(0)", "abs(-0.5)", "abs(\"-2\")", "abs(\"x\")", "abs()", "abs(1, 2)", "abs(null)", "abs([1])",
  "ceil(1.5)", "ceil(-1.5)", "ceil(2)", "ceil(\"1.2\")", "ceil()", "ceil(1, 2)", "ceil(\"a\")",
  "floor(1.5)", "floor(-1.5)", "floor(2)", "floor(\"1.7\")", "floor()", "floor(1, 2)", "floor(true)",
  "log(8, 2)", "log(1, 10)", "log(100, 10)", "log(8)", "log(8, 2, 1)", "log(\"x\", 2)", "log(8, \"x\")",
  "pow(2, 10)", "pow(2, 0)", "pow(0, 0)", "pow(3, 2)", "pow(2)", "pow(2, 3, 4)", "pow(\"x\", 1)", "pow(1, \"x\")",
  "signum(-5)", "signum(0)", "signum(7)", "signum(-0.25)", "signum()", "signum(1, 2)", "signum(\"a\")",
  "parseint(\"100\", 10)", "parseint(\"ff\", 16)", "parseint(\"FF\", 16)", "parseint(\"-101\", 2)", "parseint(\"+7\", 8)",
  "parseint(\"zz\", 36)", "parseint(\"12\", 2)", "parseint(\"\", 10)", "parseint(\"1\", 1)", "parseint(\"1\", 63)",
  "parseint(\"10\", 62)", "parseint(\"Z\", 62)", "parseint(\"z\", 62)", "parseint(\"z!\", 36)", "parseint(\"!\", 62)", "parseint(\"Zz\", 36)", "parseint(\"9\", 10)", "parseint(\"a\", 10)",
  "parseint(\"a\", 11)", "parseint(\"b\", 11)", "parseint(\"1.5\", 10)", "parseint(\"10\", 2.5)", "parseint(10, 10)",
  "parseint(\"10\")", "parseint(\"10\", 10, 1)", "parseint(\" 1\", 10)", "parseint(\"1 \", 10)", "parseint(\"-\", 10)",
  "max(1, 5, 3)", "max(-1, -5)", "max(2)", "max()", "max(\"3\", 2)", "max(\"x\")", "max(1, null)",
  "min(1, 5, 3)", "min(-1, -5)", "min(2)", "min()", "min(\"3\", 4)", "min(\"x\")",
  "range(3)", "range(0)", "range(-3)", "range(1, 4)", "range(4, 1)", "range(1, 10, 3)", "range(10, 1, -3)", "range(0, 1, 0.25)",
  "range(1, 4, 0)", "range(1, 4, -1)", "range(4, 1, 1)", "range()", "range(1, 2, 3, 4)", "range(\"x\")", "range(\"3\")",
  "range(1025)", "range(1024)", "range(0, 2048, 2)", "range(0, 2050, 2)", "range(1, 1)", "range(2.5)",
  // grapheme clusters, as cty counts characters
  // cty keeps strings in NFC (go-cty cty/value_init.go, StringVal): "x\u0301" has no composed form, so stays two code points
  "strlen(\"x\\u0301\")", "strrev(\"ax\\u0301b\")", "substr(\"ax\\u0301b\", 1, 1)", "reverse(\"ax\\u0301\")", "strlen(\"🇫🇷\")",
  "strrev(\"a🇫🇷b\")", "substr(\"🇫🇷🇩🇪x\", 1, 1)", "substr(\"🇫🇷🇩🇪x\", -2, 1)", "reverse(\"a👍🏽\")", "strlen(\"👍🏽a\")",
  "coalesce(null, [1], 2)", "coalesce(null, 1, [2])", "coalesce(null, \"a\", 1)", "lookup(null, \"a\", 1)", "lookup({a = 1}, null, 1)",
  "substr(\"hello\", -3, 0)", "substr(\"hello\", -6, 2)", "substr(\"hello\", -9, -1)", "substr(\"hello\", 4, 1)", "substr(\"hello\", 2, -1)",
  "format(\"%05d\", -42)", "format(\"%+05d\", 42)", "format(\"%06.2f\", -1.5)", "format(\"%s\", \"a\", \"b\")", "format(\"x\", 1)",
  "format(\"%[2]s\", \"a\", \"b\")", "format(\"%d %d\", 1, 2, 3)", "format(\"%[1]s %[1]s\", \"a\")", "format(\"%5q|\", \"a\")", "format(\"%05q|\", \"a\")",
  "format(\"%-8v|\", \"ab\")", "format(\"%x\", -255)", "format(\"%b\", 0)",
  "formatlist(\"%s\", [\"a\"], [\"b\"])", "formatlist(\"-\", [\"a\"])",
  "coalesce(\"a\", true)", "coalesce(true, \"a\")", "coalesce(null, false, 1)", "coalesce(1, \"a\", true)", "coalesce(null, 2, 1)",
  "index([\"a\", \"b\"], 1)", "index([\"a\", \"b\"], 0)", "index([\"a\", \"b\"], 2)", "index([\"a\", \"b\"], -1)", "index([\"a\", \"b\"], 0.5)",
  "index([], 0)", "index(\"ab\", 0)", "index([\"a\", \"b\"], \"1\")",
  "lookup({a = 1}, \"a\", 0)", "lookup({a = \"x\"}, \"b\", \"d\")", "lookup({}, \"b\", null)",
  "reverse(\"abc\")", "reverse(\"\")", "reverse(\"héllo\")", "reverse([1, 2])", "reverse(1)",
  "setunion([3, 1], [2])", "setunion([\"b\", \"a\"], [\"c\", \"a\"])", "setunion([1, \"a\"], [\"b\"])", "setunion([\"b\"], [\"a\", null])", "setunion([10, 9], [100])",
  "setunion([\"b\", \"B\", \"a\"])", "setunion([\"10\", \"9\"])",
  "jsonencode(\"\\u2028\")", "jsonencode({\"<\" = \">\"})", "jsonencode(\"é\")",
  "title(\"a\\u00a0b\")", "title(\"«a»\")", "title(\"a\\tb\")", "title(\"a~b{c}d|e\")", "title(\"a`b^c@d\")", "title(\"1a\")",
  "parseint(\"-ff\", 16)", "parseint(\"FF\", 15)", "parseint(\"Aa\", 62)", "parseint(\"zz\", 36)", "parseint(\"ZZ\", 36)", "parseint(\"a\", 37)", "parseint(\"1_0\", 10)",
  "parseint(\"0x10\", 16)", "parseint(\"--1\", 10)", "parseint(\"7\", 8)", "parseint(\"8\", 8)", "parseint(\"1\", 2)", "parseint(\"2\", 2)",
  "signum(-1)", "signum(2.5)", "signum(\"-3\")",
  "chunklist([1], 0)", "range(-2, 2)", "range(2, -2)", "range(0, -1025)", "range(0, -1024)", "range(3, 0, -1)", "range(0, 3, -1)", "range(0, 0, -1)",
  "range(-1)", "range(0, 1, 2)",
  "replace(\"😀a\", \"\", \".\")", "replace(\"a$1b\", \"$1\", \"$$\")",
  "parseint(\"0\", 1)", "parseint(\"0\", 0)", "formatlist(\"%s%s\", [\"a\"], [\"b\", \"c\"])", "formatlist(\"%s%s\", [\"a\", \"b\"], [\"c\"])",
  "indent(2, \"a\\nb\\nc\")", "indent(1, \"\\n\\n\")",
  "trim(\"😀a😀\", \"😀\")", "trim(\"😀a\", \"😁\")",
  "lookup({a = null}, \"a\", 1)", "lookup({}, \"toString\", 1)", "setunion([null, \"b\"], [\"a\"])", "setunion([\"b\", null, \"a\"])", "setunion([\"a\"], [[\"b\"]])", "setunion([1], [true])", "setunion([\"a\"], [true])", "setunion([true, 1])",
  "format(\"%F|%.1F\", 1.5, 2)", "format(\"%s %d\")", "format(\"%v\")", "jsondecode(null)", "jsondecode(true)", "format(\"%05s|\", \"-a\")", "format(\"%05q|\", \"-\")", "format(\"%05v|\", \"-1\")", "format(\"%05v|\", -1)", "zipmap([null], [1])", "zipmap([[1]], [1])", "zipmap([true], [1])",
  // strings
  "chomp(\"a\\n\")", "chomp(\"a\\r\\n\")", "chomp(\"a\\n\\n\")", "chomp(\"a\\r\")", "chomp(\"a\\nb\")", "chomp(\"\")", "chomp(\"a \")",
  "chomp(\"a\\n\\r\\n\")", "chomp()", "chomp(1)", "chomp(\"a\", \"b\")", "chomp([\"a\"])",
  "indent(2, \"a\\nb\")", "indent(0, \"a\\nb\")", "indent(2, \"a\")", "indent(2, \"\")", "indent(2, \"a\\n\")", "indent(1.5, \"a\")",
  "indent(2)", "indent(2, \"a\", 3)", "indent(\"x\", \"a\")", "indent(-1, \"a\\nb\")", "indent(2, 5)",
  "join(\"-\", [\"a\", \"b\"])", "join(\"-\", [])", "join(\"-\", [\"a\"], [\"b\", \"c\"])", "join(\"\", [\"a\", \"b\"])", "join(\"-\")",
  "join(\"-\", [1, 2])", "join(\"-\", [true])", "join(\"-\", \"a\")", "join(\"-\", [[\"a\"]])", "join(\"-\", [\"a\", null])", "join(1, [\"a\", \"b\"])",
  "lower(\"AbC\")", "lower(\"ÀÉ\")", "lower(\"\")", "lower()", "lower(1)", "lower(\"a\", \"b\")", "lower(true)",
  "upper(\"aBc\")", "upper(\"àé\")", "upper(\"\")", "upper()", "upper(2)", "upper(\"a\", \"b\")",
  "title(\"hello world\")", "title(\"hello-world foo_bar\")", "title(\"HELLO\")", "title(\"éa b\")", "title(\"\")", "title(\"a1b c2\")",
  "title(\"  x\")", "title()", "title(1)", "title(\"a\", \"b\")", "title(\"o'neil\")", "title(\"x.y\")",
  "replace(\"a-b-c\", \"-\", \"+\")", "replace(\"aaa\", \"a\", \"bb\")", "replace(\"abc\", \"\", \"-\")", "replace(\"abc\", \"x\", \"y\")",
  "replace(\"a1b22\", \"/[0-9]+/\", \"#\")", "replace(\"hello\", \"/(l+)/\", \"<$1>\")", "replace(\"/\", \"/\", \"x\")", "replace(\"a//b\", \"//\", \"x\")",
  "replace(\"a\", \"a\")", "replace(\"a\", \"a\", \"b\", \"c\")", "replace(1, \"1\", \"2\")", "replace(\"a\", 1, \"x\")", "replace(\"a1\", 1, 2)",
  "replace(\"abc\", \"/B/\", \"x\")", "replace(\"é1\", \"/./\", \"x\")",
  "regex_replace(\"a1b22\", \"[0-9]+\", \"#\")", "regex_replace(\"abc\", \"^\", \"x\")", "regex_replace(\"abc\", \"z\", \"x\")",
  "regex_replace(\"a\", \"a\")", "regex_replace(\"a\", \"a\", \"b\", \"c\")", "regex_replace(1, \"1\", \"x\")", "regex_replace(\"éé\", \".\", \"x\")",
  "split(\",\", \"a,b,c\")", "split(\",\", \"\")", "split(\",\", \"abc\")", "split(\"\", \"abc\")", "split(\",\", \",a,\")", "split(\",\")",
  "split(\",\", \"a\", \"b\")", "split(1, \"a1b\")", "split(\",\", 5)", "split(\", \", \"a, b,c\")",
  "strrev(\"abc\")", "strrev(\"\")", "strrev(\"héllo\")", "strrev(\"a😀b\")", "strrev()", "strrev(12)", "strrev(\"a\", \"b\")",
  "strlen(\"abc\")", "strlen(\"\")", "strlen(\"héllo\")", "strlen(\"😀\")", "strlen()", "strlen(123)", "strlen(\"a\", \"b\")", "strlen([\"a\"])",
  "substr(\"hello\", 1, 3)", "substr(\"hello\", 0, -1)", "substr(\"hello\", -3, 2)", "substr(\"hello\", -5, 1)", "substr(\"hello\", -6, 1)",
  "substr(\"hello\", 5, 1)", "substr(\"hello\", 6, 1)", "substr(\"hello\", 2, 0)", "substr(\"hello\", 3, 10)", "substr(\"héllo\", 1, 2)",
  "substr(\"hello\", 1.5, 1)", "substr(\"hello\", 1, 1.5)", "substr(\"hello\", 1)", "substr(\"hello\", 1, 1, 1)", "substr(1234, 1, 2)",
  "substr(\"\", 0, 1)", "substr(\"hello\", -1, -1)", "substr(\"hello\", 4, -1)", "substr(\"hello\", 0, 5)", "substr(\"hello\", 1, -2)",
  "trim(\"xxaxx\", \"x\")", "trim(\"  a  \", \" \")", "trim(\"abcba\", \"ab\")", "trim(\"aaa\", \"a\")", "trim(\"abc\", \"\")", "trim(\"\", \"a\")",
  "trim(\"éaé\", \"é\")", "trim(\"a\")", "trim(\"a\", \"b\", \"c\")", "trim(1, \"1\")", "trim(\"xax\", 1)", "trim(\"xaxa\", \"x\")", "trim(\"axa\", \"x\")",
  "trimprefix(\"hello\", \"he\")", "trimprefix(\"hello\", \"lo\")", "trimprefix(\"hello\", \"\")", "trimprefix(\"hello\", \"hello\")", "trimprefix(\"hehello\", \"he\")",
  "trimprefix(\"hello\")", "trimprefix(\"a\", \"b\", \"c\")", "trimprefix(1, \"a\")", "trimprefix(\"a\", 1)", "trimprefix(\"he\", \"hello\")",
  "trimsuffix(\"hello\", \"lo\")", "trimsuffix(\"hello\", \"he\")", "trimsuffix(\"hello\", \"\")", "trimsuffix(\"hello\", \"hello\")", "trimsuffix(\"lolo\", \"lo\")",
  "trimsuffix(\"hello\")", "trimsuffix(\"a\", \"b\", \"c\")", "trimsuffix(1, \"a\")", "trimsuffix(\"a\", 1)", "trimsuffix(\"lo\", \"hello\")",
  "trimspace(\"  a b \\n\")", "trimspace(\"\\t\\na\\r \")", "trimspace(\"\")", "trimspace(\"a\")", "trimspace()", "trimspace(1)", "trimspace(\"a\", \"b\")",
  // format
  "format(\"%s-%s\", \"a\", \"b\")", "format(\"%d\", 42)", "format(\"%d\", -42)", "format(\"%5d|\", 42)", "format(\"%-5d|\", 42)", "format(\"%05d\", 42)",
  "format(\"%+d\", 42)", "format(\"%+d\", -42)", "format(\"%x\", 255)", "format(\"%X\", 255)", "format(\"%o\", 8)", "format(\"%b\", 5)",
  "format(\"%x\", \"hi\")", "format(\"%X\", \"hi\")", "format(\"%f\", 1.5)", "format(\"%.2f\", 3.14159)", "format(\"%+.1f\", 2)", "format(\"%8.3f|\", 3.14159)",
  "format(\"%e\", 1234.5)", "format(\"%.2e\", 1234.5)", "format(\"%g\", 1.5)", "format(\"%t\", true)", "format(\"%t\", \"false\")", "format(\"%t\", 1)",
  "format(\"%q\", \"a\\\"b\")", "format(\"%v\", \"s\")", "format(\"%v\", 3)", "format(\"%v\", true)", "format(\"%v\", [1, \"a\"])", "format(\"%v\", {a = 1})",
  "format(\"%v\", null)", "format(\"%%\")", "format(\"100%%\")", "format(\"%s\")", "format(\"%s %s\", \"a\")", "format(\"%[2]s %[1]s\", \"a\", \"b\")",
  "format(\"%s\", 5)", "format(\"%s\", true)", "format(\"%s\", [1])", "format(\"%d\", 1.5)", "format(\"%d\", \"7\")", "format(\"%d\", \"x\")",
  "format(\"%5s|\", \"ab\")", "format(\"%-5s|\", \"ab\")", "format(\"%05s|\", \"ab\")", "format(\"x\")", "format()", "format(1)", "format(\"%z\", 1)",
  "format(\"%f\", \"x\")", "format(\"%x\", 1.5)", "format(\"%t\", \"yes\")", "format(\"%1d|\", 123)", "format(\"%3d|\", 123)", "format(\"%-05d|\", 42)",
  "format(\"%v\", 1.5)", "format(\"%s\", \"é\")", "format(\"%q\", 5)", "format(\"%02x\", 10)",
  "formatlist(\"%s-%s\", [\"a\", \"b\"], [\"c\", \"d\"])", "formatlist(\"%s=%d\", [\"a\", \"b\"], 1)", "formatlist(\"%s\", [])",
  "formatlist(\"%s\", [\"a\"], [\"b\", \"c\"])", "formatlist(\"x\")", "formatlist()", "formatlist(\"%s\", \"a\")", "formatlist(1, [\"a\"])",
  "formatlist(\"%s%s\", [\"a\"], [\"b\"])", "formatlist(\"%d\", [1, 2, 3])",
  // collections
  "chunklist([1, 2, 3, 4, 5], 2)", "chunklist([1, 2, 3, 4], 2)", "chunklist([1, 2], 0)", "chunklist([], 2)", "chunklist([1, 2], 5)", "chunklist([1, 2], 1)",
  "chunklist([1, 2], -1)", "chunklist([1, 2], 1.5)", "chunklist([1, 2])", "chunklist([1], 1, 1)", "chunklist(\"a\", 1)", "chunklist([1], \"x\")", "chunklist([], 0)",
  "coalesce(null, \"a\", \"b\")", "coalesce(\"a\", \"b\")", "coalesce(null, 1, \"x\")", "coalesce(1, 2)", "coalesce(null, null)", "coalesce()",
  "coalesce(\"\", \"b\")", "coalesce(null, true)", "coalesce(null, [1], [2])", "coalesce([1], 2)", "coalesce(1, true)", "coalesce(null, {a = 1})",
  "coalescelist([], [1, 2], [3])", "coalescelist([1], [2])", "coalescelist([], [])", "coalescelist()", "coalescelist([], [\"a\"])",
  "compact([\"a\", \"\", \"b\", null])", "compact([])", "compact([\"\"])", "compact()", "compact([\"a\"], [\"b\"])", "compact(\"a\")",
  "concat([1], [2, 3])", "concat([], [])", "concat([1])", "concat([\"a\"], [\"b\"], [\"c\"])", "concat([1], \"a\")", "concat([[1]], [[2]])",
  "contains([1, 2], 2)", "contains([1, 2], 3)", "contains([\"a\"], \"a\")", "contains([], 1)", "contains([1])", "contains([1], 1, 1)", "contains(\"a\", \"a\")",
  "contains([[1]], [1])", "contains([\"a\", \"b\"], \"b\")",
  "distinct([1, 2, 1, 3, 2])", "distinct([])", "distinct([\"a\", \"a\"])", "distinct()", "distinct([1], [2])", "distinct(\"a\")", "distinct([[1], [1], [2]])",
  "element([\"a\", \"b\", \"c\"], 1)", "element([\"a\", \"b\", \"c\"], 3)", "element([\"a\", \"b\", \"c\"], 5)", "element([\"a\", \"b\"], 0)", "element([], 0)",
  "element([\"a\"], -1)", "element([\"a\"], 1.5)", "element([\"a\"])", "element([\"a\"], 0, 1)", "element(\"a\", 0)", "element([\"a\"], \"x\")", "element([\"a\", \"b\"], \"1\")",
  "flatten([[1, 2], [3], []])", "flatten([[1, [2, [3]]], 4])", "flatten([])", "flatten([1, 2])", "flatten()", "flatten([1], [2])", "flatten(\"a\")", "flatten([[], []])",
  "index([\"a\", \"b\"], \"b\")", "index([\"a\", \"b\"], \"a\")", "index([\"a\", \"b\"], \"c\")", "index([], \"a\")", "index([\"a\"])", "index([\"a\"], \"a\", 1)", "index(\"a\", \"a\")",
  "index([\"a\", \"b\", \"a\"], \"a\")",
  "keys({b = 1, a = 2})", "keys({})", "keys()", "keys({a = 1}, {b = 2})", "keys([1])", "keys(\"a\")", "keys({c = 1, a = 2, b = 3})",
  "values({b = 1, a = 2})", "values({})", "values()", "values({a = 1}, {b = 2})", "values([1])", "values({c = \"x\", a = \"y\", b = \"z\"})",
  "length([1, 2])", "length([])", "length(\"abc\")", "length()", "length([1], [2])", "length(5)", "length(null)", "length(true)",
  "lookup({a = 1}, \"a\")", "lookup({a = 1}, \"b\", 0)", "lookup({a = 1}, \"b\")", "lookup({a = 1}, \"a\", 2)", "lookup({a = 1})", "lookup({a = 1}, \"a\", 1, 1)",
  "lookup([1], \"a\")", "lookup({a = 1}, 1)", "lookup({\"1\" = \"x\"}, 1)",
  "merge({a = 1}, {b = 2})", "merge({a = 1}, {a = 2})", "merge()", "merge({})", "merge({a = 1}, null)", "merge({a = 1}, [1])", "merge(\"a\")", "merge(null)",
  "merge({a = 1}, {b = 2}, {a = 3})",
  "reverse([1, 2, 3])", "reverse([])", "reverse()", "reverse([1], [2])", "reverse(\"abc\")",
  "setunion([1, 2], [2, 3])", "setunion([\"b\", \"a\"], [\"a\"])", "setunion([])", "setunion()", "setunion([1], \"a\")",
  "slice([1, 2, 3, 4], 1, 3)", "slice([1, 2, 3], 0, 0)", "slice([1, 2, 3], 0, 3)", "slice([1, 2, 3], 3, 3)", "slice([1, 2, 3], 2, 1)", "slice([1, 2, 3], -1, 2)",
  "slice([1, 2, 3], 0, 4)", "slice([1, 2, 3], 1.5, 2)", "slice([1, 2, 3], 0, 1.5)", "slice([1, 2, 3], 0)", "slice([1], 0, 1, 1)", "slice(\"abc\", 0, 1)", "slice([], 0, 0)",
  "slice([1, 2, 3], 1, 1)",
  "sort([\"b\", \"a\", \"c\"])", "sort([])", "sort([\"B\", \"a\", \"A\"])", "sort([\"10\", \"9\", \"1\"])", "sort()", "sort([\"a\"], [\"b\"])", "sort(\"a\")",
  "sort([[\"a\"]])", "sort([\"b\", null])",
  "zipmap([\"a\", \"b\"], [1, 2])", "zipmap([], [])", "zipmap([\"a\"], [1, 2])", "zipmap([\"a\", \"b\"], [1])", "zipmap([\"a\"])", "zipmap([\"a\"], [1], [2])",
  "zipmap(\"a\", [1])", "zipmap([\"a\"], \"b\")", "zipmap([1, 2], [\"x\", \"y\"])", "zipmap([\"a\", \"a\"], [1, 2])",
  // json and csv
  "jsonencode({a = [1, \"x\", true, null]})", "jsonencode(\"a\\\"b\")", "jsonencode(1.5)", "jsonencode(null)", "jsonencode([])", "jsonencode({})",
  "jsonencode()", "jsonencode(1, 2)", "jsonencode(\"<&>\")",
  "jsondecode(\"{\\\"a\\\": [1, \\\"x\\\", true, null]}\")", "jsondecode(\"1.5\")", "jsondecode(\"null\")", "jsondecode(\"\\\"s\\\"\")", "jsondecode(\"[]\")",
  "jsondecode(\"{\")", "jsondecode(\"\")", "jsondecode()", "jsondecode(\"1\", \"2\")", "jsondecode(1)", "jsondecode(\"[1, 2] x\")", "jsondecode(\"true\")",
  "csvdecode(\"a,b\\n1,2\\n3,4\\n\")", "csvdecode(\"a,b\\n\\\"x,y\\\",\\\"q\\\"\\\"r\\\"\\n\")", "csvdecode(\"a,b\\r\\n1,2\\r\\n\")", "csvdecode(\"a,b\\n1\\n\")",
  "csvdecode(\"a\\n1\")", "csvdecode(\"a,b\\n\")", "csvdecode(\"\")", "csvdecode()", "csvdecode(\"a\", \"b\")", "csvdecode(1)", "csvdecode(\"a,b\\n1,2,3\\n\")"
]

describe("job-file functions answer as go-cty's", () => {
  it("a wrong number of arguments says how many the function takes", () => {
    const messages = ["abs()", "log(1)", "max()", "lookup({}, \"a\")", "range()", "range(1, 2, 3, 4)", "uuidv4(1)"]
      .map((call) => ourResult(`value = ${call}\n`, {}).error)
    expect(messages).toEqual([
      "abs takes 1 argument, got 0", "log takes 2 arguments, got 1", "max takes at least 1 argument, got 0", "lookup takes 3 arguments, got 2",
      "range takes 1 to 3 arguments, got 0", "range takes 1 to 3 arguments, got 4", "uuidv4 takes 0 arguments, got 1"
    ].map((m) => `Error: line 1: Error in function call: call to function ${JSON.stringify(m.split(" ")[0])} failed: ${m}`))
  })

  it("every call, value for value, or failing in both", () => {
    const texts = calls.map((call) => `value = ${call}\n`)
    oracle(texts.map((text) => ({ text, variables: {} }))).forEach((real, i) => {
      const mine = ourResult(texts[i]!, {})
      if (real.error === undefined) expect(mine, calls[i]).toEqual(real)
      // Ours fails with a reason, not an empty message.
      else expect(mine.error ?? "(none)", `${calls[i]} fails in go-cty: ${real.error}`).toMatch(/failed: \S/)
    })
  })
})

// The go-cty-funcs functions (and setintersection) are not in the oracle's table: the values below are their
// documented ones (Terraform's and Nomad's function docs, which share go-cty-funcs), or Go's library's for the
// edge cases (encoding/base64, net/url.QueryEscape, path/filepath, github.com/mitchellh/go-homedir).
describe("the go-cty-funcs functions answer as documented", () => {
  const fails = Symbol("fails")
  const documented: ReadonlyArray<readonly [string, Value | typeof fails]> = [
    ["base64encode(\"Hello World\")", "SGVsbG8gV29ybGQ="], ["base64encode(\"\")", ""], ["base64encode(\"é\")", "w6k="], ["base64encode(\"ab\")", "YWI="],
    ["base64encode()", fails], ["base64encode(\"a\", \"b\")", fails], ["base64encode([\"a\"])", fails],
    ["base64decode(\"SGVsbG8gV29ybGQ=\")", "Hello World"], ["base64decode(\"\")", ""], ["base64decode(\"YWI=\")", "ab"], ["base64decode(\"w6k=\")", "é"],
    ["base64decode(\"YWI\")", fails], ["base64decode(\"YW=I\")", fails], ["base64decode(\"YWI*\")", fails], ["base64decode(\"/w==\")", fails],
    ["base64decode(\"Y===\")", fails], ["base64decode()", fails], ["base64decode(\"YWI=\", \"x\")", fails], ["base64decode([\"YWI=\"])", fails],
    ["urlencode(\"Hello World!\")", "Hello+World%21"], ["urlencode(\"☃\")", "%E2%98%83"], ["urlencode(\"foo=bar&bar=baz\")", "foo%3Dbar%26bar%3Dbaz"],
    ["urlencode(\"a-_.~b\")", "a-_.~b"], ["urlencode(\"'()*/\")", "%27%28%29%2A%2F"], ["urlencode(\"\")", ""], ["urlencode()", fails], ["urlencode(\"a\", \"b\")", fails],
    ["md5(\"hello world\")", "5eb63bbbe01eeed093cb22bb8f5acdc3"], ["md5(\"\")", "d41d8cd98f00b204e9800998ecf8427e"], ["md5()", fails], ["md5(\"a\", \"b\")", fails],
    ["sha1(\"hello world\")", "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"], ["sha1()", fails], ["sha1([\"a\"])", fails],
    ["sha256(\"hello world\")", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"], ["sha256(\"a\", \"b\")", fails],
    ["sha512(\"hello world\")", "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"],
    ["sha512()", fails],
    ["setintersection([\"a\", \"b\"], [\"b\", \"c\"], [\"b\", \"d\"])", ["b"]], ["setintersection([\"c\", \"b\", \"a\"], [\"a\", \"c\"])", ["a", "c"]],
    ["setintersection([3, 1, 2, 2])", [1, 2, 3]], ["setintersection([10, 9], [9, 10, 11])", [9, 10]], ["setintersection([1], [])", []],
    ["setintersection()", fails], ["setintersection(\"a\")", fails], ["setintersection([1], \"a\")", fails],
    ["uuidv4(1)", fails],
    ["basename(\"foo/bar/baz.txt\")", "baz.txt"], ["basename(\"/a/b/\")", "b"], ["basename(\"\")", "."], ["basename(\"//\")", "/"], ["basename(\"x\")", "x"],
    ["basename()", fails], ["basename(\"a\", \"b\")", fails],
    ["dirname(\"foo/bar/baz.txt\")", "foo/bar"], ["dirname(\"a/\")", "a"], ["dirname(\"x\")", "."], ["dirname(\"\")", "."], ["dirname(\"/\")", "/"],
    ["dirname(\"/a\")", "/"], ["dirname(\"a//b/./c\")", "a/b"], ["dirname(\"a/../b/c\")", "b"], ["dirname()", fails], ["dirname(\"a\", \"b\")", fails],
    ["abspath(\"/a/b/../c/\")", "/a/c"], ["abspath(\"/\")", "/"], ["abspath(\"x/y\")", `${process.cwd()}/x/y`], ["abspath()", fails], ["abspath(\"a\", \"b\")", fails],
    ["pathexpand(\"~/.ssh/id_rsa\")", `${os.homedir()}/.ssh/id_rsa`], ["pathexpand(\"~\")", os.homedir()], ["pathexpand(\"/etc/resolv.conf\")", "/etc/resolv.conf"],
    ["pathexpand(\"a/~\")", "a/~"], ["pathexpand(\"\")", ""], ["pathexpand(\"~user/x\")", fails], ["pathexpand()", fails], ["pathexpand(\"a\", \"b\")", fails],
    ["file(\"a\")", fails], ["fileexists(\"a\")", fails], ["filebase64(\"a\")", fails],
  ]

  it.each(documented)("%s", (call, expected) => {
    const mine = ourResult(`value = ${call}\n`, {})
    if (expected === fails) expect(mine.error).toBeDefined()
    else expect(mine).toEqual({ body: { attributes: { value: expected }, blocks: [] } })
  })

  it.each(["bcrypt", "rsadecrypt", "cidrhost", "cidrnetmask", "cidrsubnet", "cidrsubnets", "convert", "formatdate", "timeadd", "setproduct", "uuidv5", "yamldecode", "yamlencode", "fileset"])(
    "%s is known, and says it is not implemented",
    (name) => expect(ourResult(`value = ${name}("a")\n`, {}).error).toMatch(/is a Nomad job function that containerd-driver run does not implement/)
  )

  it("uuidv4: a random version 4 UUID each call", () => {
    const mine = ourResult("a = uuidv4()\nb = uuidv4()\n", {})
    const { a, b } = mine.body!.attributes
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(b).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(a).not.toBe(b)
  })

  it("the file functions read relative to the job file's directory, UTF-8 only for file", () => {
    const contents: Record<string, Uint8Array> = { "/job/a.txt": Buffer.from("héllo\n"), "/abs/b.bin": Uint8Array.of(0xff, 0x00), [`${os.homedir()}/c.txt`]: Buffer.from("c") }
    const fns = jobFunctions({ baseDir: "/job", read: (f) => contents[f] })
    const pos = { line: 1, column: 1 }
    expect(fns["file"]!(["a.txt"], pos)).toBe("héllo\n")
    expect(fns["file"]!(["./sub/../a.txt"], pos)).toBe("héllo\n")
    expect(fns["file"]!(["~/c.txt"], pos)).toBe("c")
    expect(() => fns["file"]!(["/abs/b.bin"], pos)).toThrow(/UTF-8/)
    expect(() => fns["file"]!(["missing.txt"], pos)).toThrow(/no file exists/)
    expect(() => fns["file"]!([], pos)).toThrow()
    expect(() => fns["file"]!(["a.txt", "b"], pos)).toThrow()
    expect(fns["filebase64"]!(["/abs/b.bin"], pos)).toBe("/wA=")
    expect(fns["filebase64"]!(["a.txt"], pos)).toBe("aMOpbGxvCg==")
    expect(() => fns["filebase64"]!(["missing.txt"], pos)).toThrow()
    expect(() => fns["filebase64"]!([], pos)).toThrow()
    expect(fns["fileexists"]!(["a.txt"], pos)).toBe(true)
    expect(fns["fileexists"]!(["/job/a.txt"], pos)).toBe(true)
    expect(fns["fileexists"]!(["b.txt"], pos)).toBe(false)
    expect(() => fns["fileexists"]!([], pos)).toThrow()
  })
})
