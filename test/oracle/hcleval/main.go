// Command hcleval is a test oracle for how a job file's expressions evaluate (src/job/HclSyntax.ts, HclEval.ts):
// each input is HCL native syntax — attributes, as a job file has them — parsed and evaluated by the real
// hashicorp/hcl/v2 hclsyntax package with go-cty's standard library functions under the names Nomad's jobspec2
// gives them, as Debian packages them (hcl 2.14.1, cty 1.12.1).
//
// Input on stdin: a JSON array of {"text": "...", "variables": {...}} (variables are JSON values, e.g. the `var`
// object). Output: a JSON array, one {"body": <body>} or {"error": "...", "line": N} each, where a body is
// {"attributes": {"name": <value as JSON>}, "blocks": [{"type": "...", "labels": [...], "body": <body>}]}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

type request struct {
	Text      string                     `json:"text"`
	Variables map[string]json.RawMessage `json:"variables"`
}

type body struct {
	Attributes map[string]json.RawMessage `json:"attributes"`
	Blocks     []block                    `json:"blocks"`
}

type block struct {
	Type   string   `json:"type"`
	Labels []string `json:"labels"`
	Body   body     `json:"body"`
}

type result struct {
	Body  *body  `json:"body,omitempty"`
	Error string `json:"error,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// functions: go-cty's stdlib under jobspec2's names (the go-cty-funcs ones are not in Debian).
var functions = map[string]function.Function{
	"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc, "chunklist": stdlib.ChunklistFunc,
	"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "csvdecode": stdlib.CSVDecodeFunc,
	"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
	"floor": stdlib.FloorFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
	"indent": stdlib.IndentFunc, "index": stdlib.IndexFunc, "join": stdlib.JoinFunc,
	"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc,
	"length": stdlib.LengthFunc, "log": stdlib.LogFunc, "lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc,
	"max": stdlib.MaxFunc, "merge": stdlib.MergeFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc,
	"pow": stdlib.PowFunc, "range": stdlib.RangeFunc, "replace": stdlib.ReplaceFunc,
	"regex_replace": stdlib.RegexReplaceFunc, "reverse": stdlib.ReverseFunc, "setunion": stdlib.SetUnionFunc,
	"signum": stdlib.SignumFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc,
	"strlen": stdlib.StrlenFunc, "strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc,
	"trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc, "trimspace": stdlib.TrimSpaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc, "values": stdlib.ValuesFunc,
	"zipmap": stdlib.ZipmapFunc,
}

func evaluate(r request) result {
	file, diags := hclsyntax.ParseConfig([]byte(r.Text), "job.nomad", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return failure(diags)
	}
	ctx := &hcl.EvalContext{Functions: functions, Variables: map[string]cty.Value{}}
	for name, raw := range r.Variables {
		ty, err := ctyjson.ImpliedType(raw)
		if err != nil {
			return result{Error: fmt.Sprintf("variable %s: %v", name, err)}
		}
		v, err := ctyjson.Unmarshal(raw, ty)
		if err != nil {
			return result{Error: fmt.Sprintf("variable %s: %v", name, err)}
		}
		ctx.Variables[name] = v
	}
	evaluated, diags := evaluateBody(file.Body.(*hclsyntax.Body), ctx)
	if diags.HasErrors() {
		return failure(diags)
	}
	return result{Body: &evaluated}
}

// evaluateBody evaluates every attribute of a body and of its blocks, in source order.
func evaluateBody(b *hclsyntax.Body, ctx *hcl.EvalContext) (body, hcl.Diagnostics) {
	out := body{Attributes: map[string]json.RawMessage{}, Blocks: []block{}}
	names := make([]string, 0, len(b.Attributes))
	for name := range b.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, diags := b.Attributes[name].Expr.Value(ctx)
		if diags.HasErrors() {
			return out, diags
		}
		// Lists and tuples, maps and objects are all JSON arrays and objects to the caller.
		encoded, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return out, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: %v", name, err)}}
		}
		out.Attributes[name] = encoded
	}
	for _, nested := range b.Blocks {
		inner, diags := evaluateBody(nested.Body, ctx)
		if diags.HasErrors() {
			return out, diags
		}
		labels := nested.Labels
		if labels == nil {
			labels = []string{}
		}
		out.Blocks = append(out.Blocks, block{Type: nested.Type, Labels: labels, Body: inner})
	}
	return out, nil
}

func failure(diags hcl.Diagnostics) result {
	line := 0
	if d := diags[0]; d.Subject != nil {
		line = d.Subject.Start.Line
	}
	return result{Error: diags.Error(), Line: line}
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var requests []request
	if err := json.Unmarshal(input, &requests); err != nil {
		fmt.Fprintln(os.Stderr, "malformed request:", err)
		os.Exit(2)
	}
	results := make([]result, len(requests))
	for i, r := range requests {
		results[i] = evaluate(r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
