// HCL's native syntax, construct by construct, against the real thing: test/oracle/hcleval (hashicorp/hcl 2.14.1's
// hclsyntax and go-cty, test/support/HclOracle.ts) reads the same whole texts as src/job/HclSyntax.ts and
// HclEval.ts. Each text must evaluate to the same body, or fail alike on the same line.
import { describe, expect, it } from "@effect/vitest"
import type { Value } from "../../src/job/HclEval.js"
import { oracle, type OracleResult, ourResult } from "../support/HclOracle.js"

const variables: Record<string, Value> = {
  var: {
    list: [1, 2, 3],
    obj: { a: 1, b: "x" },
    objs: [{ a: 1, b: [1, 2] }, { a: 2, b: [3, 4] }],
    n: null,
    s: "str"
  }
}

/** Texts the real parser and evaluator accept, by construct. */
const valid: Record<string, ReadonlyArray<string>> = {
  numbers: [
    "a = 1e3\nb = 1E+2\nc = 25e-1\nd = 007\ne = 1.5\nf = 0.25\ng = 12345678901234\n",
    "a = 3.0\nb = 0\nc = 10e0\nd = -1e2\n",
    // hclsyntax's scanner reads `1.e3` as one number.
    "a = 1.e3\nb = 1.E-1\nc = 2.e+1\n",
    "a = 1<2\nb = 2>1\nc = 3-1\nd = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].10\ne = var.list[0]+length([1][*])\n"
  ],
  escapes: [
    "a = \"x\\ny\\t\\\"q\\\"\\\\ \\u00e9 \\U0001F600 \\r.\"\n",
    "a = \"$${x} %%{y}\"\nb = \"$$\"\nc = \"a$b%c\"\nd = \"100%\"\ne = \"$\"\nf = \"%\"\ng = \"$${\"\nh = \"\\u00E9\\u00e9\"\n"
  ],
  templates: [
    "a = \"${1}\"\nb = \"x${1}\"\nc = \"\"\nd = \"${\"a\"}${\"b\"}\"\ne = \"${true}\"\nf = \"${[1, 2]}\"\ng = \"${null}\"\n",
    "a = \"a  ${~ \"b\" ~}  c\"\nb = \"a ${~\"b\"} c\"\nc = \"a ${\"b\"~} c\"\nd = \"  ${~ 1}\"\ne = \"${1 ~}  \"\nf = \" ${~ 1 ~} \"\n",
    "a = \"%{if true}yes%{else}no%{endif}\"\nb = \"%{ if false }yes%{ else }no%{ endif }\"\nc = \"%{if true}only%{endif}\"\nd = \"%{if false}only%{endif}\"\n",
    "a = \"<%{ if false ~} x %{~ else ~} y %{~ endif ~} z>\"\nb = \"< %{~ if true ~} x %{~ endif} >\"\nc = \"< %{if true ~} x %{~ endif ~} >\"\nd = \"< %{~ if false} x %{ else ~} y %{ endif ~} >\"\n",
    "a = \"%{for x in [1, 2]}${x},%{endfor}\"\nb = \"%{for k, v in {b = 2, a = 1}}${k}=${v};%{endfor}\"\nc = \"[ %{~ for x in [1, 2] ~} ${x} %{~ endfor ~} ]\"\nd = \"%{for x in []}x%{endfor}\"\n",
    "a = \"%{for x in [1, 2, 3]}%{if x != 2}${x}%{endif}%{endfor}\"\nb = \"%{if true}%{if false}a%{else}b%{endif}%{endif}\"\nc = \"%{ for i, x in [\"p\", \"q\"] }${i}${x}%{ endfor }\"\n",
    "a = \"${var.s}-${var.list[0]}\"\nb = \"${\n  1 +\n  2\n}\"\nc = \"%{if\nvar.s == \"str\"\n}y%{endif}\"\n",
    "a = \"${\"${\"in\"}ner\"}\"\nb = \"x${\"y${1 + 1}\"}\"\n",
    "a = \"${1 ~}x y\"\nb = \"x y${~ 1}\"\nc = \"%{\nif true}x%{endif}\"\nd = <<EOT\n%{\nif true}x%{\nendif}\nEOT\ne = <<EOT\n%{ for x\nin [1, 2] }${x}%{ endfor }\nEOT\n",
    "a = \"aa{bb{\"\nb = \"$\"\nc = \"x$${\"\nd = \"%%{ if }\"\ne = \"a${\"b\"}\"\n",
    // Only a template of nothing but one interpolation is its value; text stripped away still makes a string.
    "a = \"${~ 1}\"\nb = \"${1 ~}\"\nc = \"${~ 1 ~}\"\nd = \"${ 1 }\"\n"
  ],
  heredocs: [
    "a = <<EOT\nhello\n  world\nEOT\nb = 1\n",
    "a = <<-EOT\n    a\n      b\n    EOT\n",
    "a = <<-EOT\n\t  a\n  b\n  EOT\n",
    "a = <<-EOT\n    a\n\n    b\n  \n    EOT\n",
    "a = <<EOT\nEOT\nb = <<-EOT\nEOT\n",
    "a = <<EOT\nx ${1 + 1} y\n$${z} %%{w} a\\nb\nEOT\n",
    "a = <<EOT\n%{ for x in [1, 2] ~}\nitem ${x}\n%{ endfor ~}\nEOT\n",
    "a = <<EOT\n%{ if true }\nyes\n%{ else }\nno\n%{ endif }\nEOT\n",
    "a = [<<EOT\nx\nEOT\n, 1]\nb = <<EOT\n  x\n  EOT\n",
    "a = <<EOT\n${\"v\"}\nEOT\nb = <<EOT\n  EOT-not\nEOT\n",
    "a = <<EOT_2\nEOT\nEOT_2\n",
    "a = <<EOT\r\nx\r\nEOT\r\n",
    "a = <<-EOT\n  x \"q\" \\\n  EOT\n",
    "a = <<-EOT\n    one\n  two\n      three\n    EOT\n",
    // Lines of only blanks neither count for the indentation nor lose theirs.
    "a = <<-EOT\n    x\n   \n  EOT\nb = <<-EOT\n    x\n      \n  EOT\n",
    "a = <<-EOT\n  %{ if true }\n    x\n  %{ endif }\n  EOT\nb = <<-EOT\n    x\n  %{ if true }y%{ endif }\n  EOT\n",
    "a = <<-EOT\n  ${1}\n    x\n  EOT\nb = <<-EOT\n  %{ if true }x%{ endif }\n    y\n  EOT\nc = <<-EOT\n    x ${1}\n      y\n  EOT\n"
  ],
  comments: [
    "# c\na = 1 # trailing\nb = 2 // trailing\nc = /* inline */ 3\n/* multi\nline */\nd = 4\n// last",
    "a = [1, # c\n 2, // c\n /* c */ 3]\nb = {\n  x = 1 # c\n  // c\n  y = 2 /* c */\n}\nc = (1 /* c\n*/ + 2)\n",
    "a = \"# not // a /* comment\"\nb = 1 /* c */ + /* c */ 2\nblk /* c */ \"l\" /* c */ {\n  # c\n}\n",
    "a = 1\r\nb = \"x\"\r\n",
    "\uFEFFa = 1\n"
  ],
  blocks: [
    "job \"x\" {\n  group web \"y\" {\n    a = 1\n  }\n  b = 2\n}\n",
    "b {}\nc { a = 1 }\nd \"l\" { a = 1 }\ne \"x\\ty\" \"\" {\n}\n",
    "b \"a\" bare \"c\" {\n  inner {\n    x = [1]\n  }\n  inner {\n  }\n}\n",
    "b {\n}\nc {\n\n  a = 1\n\n}\n",
    "é = 1\nx_y-z = 2\n",
    "b { a = 1 }\n# c\nc { a = 1 } # c\nd {\n}\n\nd {}\ne { }\nf { /* c */ a = [\n1] }\n"
  ],
  operators: [
    "a = 1 + 2 * 3\nb = (1 + 2) * 3\nc = 10 - 4 - 3\nd = 20 / 2 / 5\ne = 7 % 4 * 2\nf = 1 < 2 == true\ng = !true || true\nh = true || false && false\n",
    "a = - - 3\nb = !!true\nc = -(3)\nd = 1 <= 1\ne = 2 >= 3\nf = 1 != 1\ng = 2 > 1 && 1 < 2\nh = 3 - -2\ni = 10 % 3\nj = \"5\" + 1\nk = 1 == \"1\"\nl = 2 * 3 % 4\n",
    "a = 1 + 2 == 3\nb = 2 < 3 != 4 < 3\nc = false && true || true\nd = !false && !false\ne = -2 * -3\nf = 9 - 3 + 1\ng = 8 / 4 * 2\nh = 1 - -1 - 1\ni = -var.list[1]\nj = !(1 < 2)\n",
    "a = (\n1\n+\n2\n)\nb = [\n1,\n2\n]\nc = {\na = 1\nb = 2\n}\nd = upper(\n\"x\"\n)\ne = 1 == 1 ? 2 : 3\nf = var.list == [1, 2, 3]\ng = var.obj != {a = 1, b = \"x\"}\n",
    "a = 1 >= 1\nb = 2 <= 1\nc = 1 > 1\nd = 1 < 1\ne = 7 / 2\nf = 5 % 0\ng = \"true\" && true\nh = -\"3\"\ni = -1 % -1\nj = -4 % 2\nk = -7 % 3\nl = -1 * 0\nm = -0\nn = [0 * -5]\no = -7.5 % 2.5\np = 7.5 % -2.5\n"
  ],
  conditionals: [
    "a = true ? false ? 1 : 2 : 3\nb = false ? 1 : true ? 2 : 3\nc = 1 > 2 ? \"a\" : \"b\"\nd = true ? 1 : \"x\"\ne = false ? true : \"x\"\nf = true ? null : 1\ng = false ? [1] : [2, 3]\n",
    "a = (true ? 1 : 2) + 1\nb = true ? 1 + 1 : 2\nc = var.s == \"str\" ? { k = 1 } : { k = 2 }\nd = \"true\" ? 1 : 2\ne = true ? [] : [1]\n"
  ],
  collections: [
    "a = []\nb = {}\nc = [1, \"x\", true, null]\nd = [1, 2,]\ne = {a = 1, b = 2}\nf = {\"k\" = 1, \"x${1}\" = 2}\ng = {a: 1, \"b\": 2}\nh = {(var.s) = 1}\ni = {a-b = 1}\nj = {a = 1, a = 2}\n",
    "a = {a /* c */ = 1}\nb = {a = 1\n-1 = 2}\nc = {\"k\" /* c */ = 1, (\n\"l\") = 2}\nd = var.list[\n1\n]\ne = <<EOT\nx\nEOT  \n",
    "a = {\n  x = 1,\n  y = 2\n}\nb = {x = [\n  1\n], y = {z = 1}}\nc = {1 = \"one\", true = \"t\"}\nd = {var = 1}\ne = {if = 1, in = 2}\n",
    "a = var.list[1]\nb = var.list.1\nc = var.obj[\"a\"]\nd = var.list[\"1\"]\ne = var.obj.a\nf = var.objs[1].b[0]\ng = var.objs.0.b.1\nh = [[1, 2], [3]][1][0]\ni = {a = {b = 3}}.a.b\nj = var.list [0]\n"
  ],
  splats: [
    "a = var.objs[*].a\nb = var.objs.*.a\nc = var.objs[*].b[0]\nd = var.objs.*.b[0]\ne = var.n[*]\nf = var.s[*]\ng = var.obj[*].a\nh = var.objs[*]\ni = var.list.*\nj = var.objs[ * ].a\n",
    "a = var.n.*.a\nb = [var.obj].*.b\nc = var.objs[*].b[*]\nd = length(var.objs[*].a)\n",
    // An attribute-only splat takes `.name` and `.0` steps; an index after it applies to its result.
    "a = var.objs.*.b.0\nb = var.objs[*].b.*\nc = var.objs.*.a[0]\nd = var.objs.*.b[0][1]\ne = var.objs[*].b[1]\n"
  ],
  fors: [
    "a = [for x in [1, 2, 3] : x * 2 if x != 2]\nb = {for k, v in {a = 1, b = 2} : v => k}\nc = {for x in [\"a\", \"b\", \"a\"] : x => x...}\nd = [for i, x in [\"a\", \"b\"] : \"${i}${x}\"]\n",
    "a = {for k, v in var.obj : k => v if k != \"a\"}\nb = [for x in {b = 2, a = 1} : x]\nc = [\n  for x in var.list :\n  x\n  if x > 1\n]\nd = {\n  for x in var.list :\n  x => x * 2\n}\ne = [for x in var.list: x if(x > 1)]\n",
    "a = {for x in [1, 2, 3] : (x > 1 ? \"big\" : \"small\") => x...}\nb = [for x in [] : x]\nc = {for i, x in [\"p\"] : x => i if i == 0}\nd = [for x in var.list : [for y in [1, 2] : x * y]]\ne = [for forx in [1] : forx]\n"
  ],
  conversions: [
    "a = \"1.5e2\" + 0\nb = \"-3\" * 2\nc = \"12\" + 0\nd = \"1.25\" + 0\ne = \"1e+2\" + 0\nf = \"1e-2\" * 100\ng = \"5.\" + 0\nh = \".5\" + 0\ni = \"+1\" + 0\nj = \"+.5e1\" + 0\nk = \"1E2\" + 0\nl = \"007\" + 0\nm = \"-.5\" + 0\nn = \"2e10\" + 0\no = \"3E-10\" * 1e10\n",
    "a = \"true\" && true\nb = \"false\" || false\nc = !\"true\"\nd = true && false\ne = false || false\nf = true || false\ng = false && true\nh = !\"false\"\n",
    "a = [1, 2] == [1, 2]\nb = [1] == [1, 2]\nc = {a = 1} == {a = 1}\nd = {a = 1} == {b = 1}\ne = {a = 1} == {a = 2}\nf = [1, [2]] == [1, [3]]\ng = [1] == {a = 1}\nh = [1] == [\"1\"]\ni = [1, 2] != [1, 2]\nj = {a = 1, b = 2} == {a = 1}\nk = null == null\nl = 1 == null\nm = {} == {}\nn = [] == []\no = [1, 2] == [2, 1]\np = [\"x\"] == \"x\"\nq = {\"0\" = \"a\"} == \"a\"\nr = {a = 1} == {a = 1, b = 2}\ns = \"x\" != [\"x\"]\n",
    "a = var.list[\"2\"]\nb = var.obj[\"b\"]\nc = -var.list[0]\nd = !(var.s == \"str\")\ne = {(1) = \"one\"}\nf = var.list[0.0]\ng = 2 < 1\nh = 1 < 2\ni = 1 <= 2\nj = 2 > 1\nk = 1 > 2\nl = 2 >= 1\nm = 1 >= 2\n",
    "a = \"x${1.5}\"\nb = \"x${0.1}\"\ne = \"x${-0.5}\"\nf = \"x${false}\"\ng = \"${1.5}\"\nh = \"x${-7}\"\n",
    "a = {for k, v in {b = 1, a = 2} : k => v}\nb = [for k, v in {b = 1, a = 2} : k]\nc = \"%{for k, v in {b = 1, a = 2}}${k}${v}%{endfor}\"\nd = \"%{for v in {b = 1, a = 2}}${v}%{endfor}\"\n",
    "a = \"${true ? 1 : 2}\"\nb = true ? \"a\" : 1\nc = false ? 1 : true ? 2 : \"x\"\nd = true ? null : \"x\"\ne = false ? null : 1\nf = true ? 1 : null\ng = true ? {a = 1} : {b = 2}\nh = false ? [1] : [\"x\"]\n"
  ],
  calls: [
    "a = max(var.list...)\nb = upper(\"a\")\nc = max(1, 2,)\nd = join(\",\", [\"a\", \"b\"])\ne = upper (\"x\")\nf = concat([[1], [2]]...)\n"
  ]
}

/** Texts the real parser or evaluator refuses: ours must refuse them too, on the same line. */
const invalid: ReadonlyArray<string> = [
  // numbers and literals
  "a = 1\nb = 1.\n", "a = 1\nb = 1.2.3\n", "a = 1\nb = 1e3e4\n", "a = 1\nb = [1.]\n", "a = 1\nb = 1.x\n", "a = 1\nb = 1e\n", "a = 1\nb = .5\n",
  // escapes
  "x = 1\ny = 2\na = \"\\q\"\n", "a = 1\nb = \"\\u12\"\n", "a = 1\nb = \"\\U0001F60\"\n", "a = 1\nb = \"\\\n",
  // templates
  "a = 1\nb = \"%{ endif }\"\n", "a = 1\nb = \"%{if true}x\"\n", "a = 1\nb = \"%{ foo }\"\n", "a = 1\nb = \"%{for x in [1]}x%{endif}\"\n",
  "a = 1\nb = \"${1\"\n", "a = 1\nb = \"abc\nc = 1\n", "a = 1\nb = \"%{if true}x%{else}y\"\n", "a = 1\nb = \"%{ else }\"\n",
  "a = 1\nb = \"%{ endfor }\"\n", "a = 1\nb = \"${1 2}\"\n", "a = 1\nb = \"%{ if true x}y%{endif}\"\n", "a = 1\nb = \"%{ for in [1] }%{endfor}\"\n",
  "a = 1\nb = \"%{ for x [1] }%{endfor}\"\n", "a = 1\nb = \"%{if true}%{endfor}\"\n", "a = 1\nb = \"x\" \"y\"\n", "a = 1\nb = \"%{if true ~ }x%{endif}\"\n",
  // heredocs
  "a = 1\nb = <<EOT\nx\n", "a = 1\nb = <<EOT x\nEOT\n", "a = 1\nb = <<EOT\n%{ endif }\nEOT\n", "a = 1\nb = <<\nEOT\n",
  "a = 1\nb = <<-EOT\n  %{ if true }\n  EOT\n", "a = 1\nb = <<EOT\nx\nEOT y\n",
  // comments
  "a = 1\nb = 2 /* open\n\n", "a = 1\n/* never closed\nb = 2\n",
  // bodies and blocks
  "a = 1\n1 = 2\n", "a = 1\nb c\n", "a = 1\nb \"x\" = 1\n", "a = 1\nb = @\n", "a = 1\nb \"x\"\n{\n}\n", "a = 1\n}\n",
  "a = 1 b = 2\n", "a = 1\nb { a = 1 b = 2 }\n", "a = 1\nb \"x${1}\" {\n}\n", "a = 1\nb {\n  c = 1\n", "a = 1\nb = = 1\n",
  "a = 1\nb { c {} }\n", "a = 1\nb { a = 1 }  c = 2\n", "a = 1\nb {\n  a = 1 }\n", "a = 1\nb 1 {\n}\n", "a = 1\na = 2\n",
  "a = 1\nb {\n} c = 1\n", "a = 1\nb { a = 1, c = 2 }\n", "a = 1\nb { a = 1\n}\n", "a = 1\nb { a = 1", "a = 1\nb {\n  c {\n  } }\n", "a = 1\nb {\n  x = 1\n  x = 2\n}\n",
  // expressions
  "a = 1\nb = [1 2]\n", "a = 1\nb = {a = 1 c}\n", "a = 1\nb = foo::bar()\n", "a = 1\nb = (1\n", "a = 1\nb = var.\n",
  "a = 1\nb = 1 ? 2\n", "a = 1\nb = [1,\n", "a = 1\nb = {a = 1,\n", "a = 1\nb = var.list[1\n", "a = 1\nb = var.objs[*].b[*][0]\n", "a = 1\nb = var.objs.*.a.*.b\n", "a = 1\nb = var.list.0.1\n", "a = 1\nb = f(1 2)\n", "a = 1\nb = max(1 2)\n", "a = 1\nb = {a = 1 c = 2}\n", "a = 1\nb = concat([1]..., [[2]])\n",
  "a = 1\nb\n= 2\n", "a = 1\nb == 1\n", "a = 1\nb\n\"x\" {\n}\n", "a = 1\nb = \"abc", "a = 1\nb = <<EOT\nx\nEOT2\n", "a = 1\nb = <<EOT\nx\nEOT", "a = 1\nb = [<<EOT\nx\nEOT]\n", "a = 1\nb = {\"k\"\n= 1}\n", "a = 1\nb = {a\n= 1}\n", "a = 1\nb = {undefined = 1}.\n", "a = 1\nb = {1 +\n2 = \"x\"}\n", "a = 1\nb = {var.s\n== \"str\" ? \"p\" : \"q\" = 1}\n", "a = 1\nb = \"x\" # c\nc = /* open",
  "a = 1\nb = max(1..., 2)\n", "a = 1\nb = 1 +\n2\n", "a = 1\nb =\n1\n", "a = 1\nb = !\n", "a = 1\nb = (1 + 2))\n",
  "a = 1\nb = {a}\n", "a = 1\nb = var.list.*.\n", "a = 1\nb = {\"a\" 1}\n", "a = 1\nb = [1] [\n",
  // for expressions
  "a = 1\nb = [for x in [1] x]\n", "a = 1\nb = {for x in [1] : x}\n", "a = 1\nb = [for in [1] : 1]\n", "a = 1\nb = [for x, in [1] : 1]\n",
  "a = 1\nb = [for x on [1] : 1]\n", "a = 1\nb = [for x in [1] : x if]\n", "a = 1\nb = [for x in [1] : x...]\n", "a = 1\nb = {for x in [1] : x => x if x > 0 ...}\n",
  // evaluation
  "a = 1\nb = \"x${null}\"\n", "a = 1\nb = {for = 1}\n", "a = 1\nb = concat([1], [2]...)\n", "a = 1\nb = \"x${[1]}\"\n", "a = 1\nb = true ? [1] : 1\n", "a = 1\nb = var.list[5]\n",
  "a = 1\nb = var.s.x\n", "a = 1\nb = var.n.a\n", "a = 1\nb = var.n[0]\n", "a = 1\nb = var.obj.zz\n", "a = 1\nb = var.list[1.5]\n",
  "a = 1\nb = [for x in null : x]\n", "a = 1\nb = {for x in [1, 1] : x => x}\n", "a = 1\nb = nope\n", "a = 1\nb = nope(1)\n",
  "a = 1\nb = !1\n", "a = 1\nb = -true\n", "a = 1\nb = 1 + \"x\"\n", "a = 1\nb = true && 1\n", "a = 1\nb = null ? 1 : 2\n",
  "a = 1\nb = \"%{if 1}x%{endif}\"\n", "a = 1\nb = \"%{for x in 1}x%{endfor}\"\n", "a = 1\nb = {for x in [null] : x => 1}\n",
  "a = 1\nb = {([1]) = 1}\n", "a = 1\nb = max([1]...)\nc = max(1...)\n", "a = 1\nb = true ? 1 : false\n", "a = 1\nb = var.list[-1]\n",
  "a = 1\nb = var.obj[[1]]\n", "a = 1\nb = \" 5\" + 0\n", "a = 1\nb = \"5 \" + 0\n", "a = 1\nb = \"1\\n\" + 0\n", "a = 1\nb = \"1e\" + 0\n", "a = 1\nb = \"1.5.2\" + 0\n", "a = 1\nb = \"--1\" + 0\n",
  "a = 1\nb = \"True\" && true\n", "a = 1\nb = var.list[3]\n", "a = 1\nb = var.obj[1]\n", "a = 1\nb = var.s[0]\n", "a = 1\nb = {(null) = 1}\n", "a = 1\nb = {undefined = 1}[[1]]\n", "a = 1\nb = true ? [1] : {a = 1}\n", "a = 1\nb = var.list[\"x\"]\n", "a = 1\nb = [for x in [1] : x if 1]\n", "a = 1\nb = var.list.a\n"
]

const outcome = (r: OracleResult) => (r.error === undefined ? r : { error: true, line: r.line })

describe("HCL native syntax, construct by construct, as hashicorp/hcl reads it", () => {
  const validTexts = Object.values(valid).flat()
  const results = oracle([...validTexts, ...invalid].map((text) => ({ text, variables })))

  it.each(Object.keys(valid))("%s evaluate as the oracle evaluates them", (group) => {
    for (const text of valid[group]!) {
      const real = results[validTexts.indexOf(text)]!
      expect(real.error, text).toBeUndefined()
      expect(ourResult(text, variables), text).toEqual(real)
    }
  })

  it("invalid texts fail on the oracle's line", () => {
    invalid.forEach((text, i) => {
      const real = results[validTexts.length + i]!
      expect(real.error, text).toBeDefined()
      expect(outcome(ourResult(text, variables)), text).toEqual(outcome(real))
    })
  })
})
