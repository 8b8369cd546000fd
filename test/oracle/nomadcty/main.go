// Command nomadcty is a test oracle for the config bytes a Nomad agent or client sends a driver plugin
// (hashicorp/nomad helper/pluginutils/loader/init.go, client/allocrunner/taskrunner/task_runner.go runDriver).
// It runs a config through the real libraries of that pipeline,
// hashicorp/hcl/v2 (hcldec, JSON syntax) and zclconf/go-cty (msgpack), as Debian packages them:
//
//  1. the hclspec Spec (as JSON, see specJSON) becomes an hcldec.Spec the way Nomad's hclspec
//     package converts it (names inherited from Object keys only, type expressions, evaluated literals);
//  2. the config map is JSON-encoded, parsed with HCL's JSON parser and decoded with hcldec.Decode,
//     with the functions Nomad offers and, optionally, string variables;
//  3. the value is marshalled with cty's msgpack encoder using its own type.
//
// Input on stdin: {"spec": Spec, "config": {...}, "variables": {"NAME": "value"}} prints the bytes as
// hex and exits 0, or prints hcldec's diagnostics to stderr and exits 1. A JSON array of such requests
// prints a JSON array of {"hex": "..."} or {"error": "..."} in the same order and exits 0.
// A malformed request or spec exits 2.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

// specJSON is hcl_spec.proto's Spec with the proto field names as keys; exactly one is set.
type specJSON struct {
	Object     *objectJSON     `json:"object"`
	Array      *arrayJSON      `json:"array"`
	Attr       *attrJSON       `json:"Attr"`
	BlockValue *blockJSON      `json:"block_value"`
	BlockAttrs *blockAttrsJSON `json:"block_attrs"`
	BlockList  *blockListJSON  `json:"block_list"`
	BlockSet   *blockListJSON  `json:"block_set"`
	BlockMap   *blockMapJSON   `json:"block_map"`
	Default    *defaultJSON    `json:"default"`
	Literal    *literalJSON    `json:"literal"`
}

type objectJSON struct {
	Attributes map[string]*specJSON `json:"attributes"`
}

type arrayJSON struct {
	Values []*specJSON `json:"values"`
}

type attrJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type blockJSON struct {
	Name     string    `json:"name"`
	Required bool      `json:"required"`
	Nested   *specJSON `json:"nested"`
}

type blockAttrsJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type blockListJSON struct {
	Name     string    `json:"name"`
	MinItems uint64    `json:"min_items"`
	MaxItems uint64    `json:"max_items"`
	Nested   *specJSON `json:"nested"`
}

type blockMapJSON struct {
	Name   string    `json:"name"`
	Labels []string  `json:"labels"`
	Nested *specJSON `json:"nested"`
}

type defaultJSON struct {
	Primary *specJSON `json:"primary"`
	Default *specJSON `json:"default"`
}

type literalJSON struct {
	Value string `json:"value"`
}

type request struct {
	Spec      *specJSON         `json:"spec"`
	Config    json.RawMessage   `json:"config"`
	Variables map[string]string `json:"variables"`
}

type result struct {
	Hex   string `json:"hex,omitempty"`
	Error string `json:"error,omitempty"`
}

// functions are the ones Nomad makes available both to Literal specs and to configs being decoded.
var functions = map[string]function.Function{
	"abs":        stdlib.AbsoluteFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"hasindex":   stdlib.HasIndexFunc,
	"int":        stdlib.IntFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"min":        stdlib.MinFunc,
	"reverse":    stdlib.ReverseFunc,
	"strlen":     stdlib.StrlenFunc,
	"substr":     stdlib.SubstrFunc,
	"upper":      stdlib.UpperFunc,
}

var startPos = hcl.Pos{Line: 1, Column: 1, Byte: 0}

// usageError is a problem with the request itself (not a decode failure of the config).
type usageError struct{ error }

func toHcldec(s *specJSON, impliedName string) (hcldec.Spec, error) {
	if s == nil {
		return nil, errors.New("missing spec")
	}
	set := 0
	for _, present := range []bool{s.Object != nil, s.Array != nil, s.Attr != nil, s.BlockValue != nil,
		s.BlockAttrs != nil, s.BlockList != nil, s.BlockSet != nil, s.BlockMap != nil, s.Default != nil, s.Literal != nil} {
		if present {
			set++
		}
	}
	if set != 1 {
		return nil, fmt.Errorf("a spec needs exactly one kind, got %d", set)
	}
	switch {
	case s.Object != nil:
		out := hcldec.ObjectSpec{}
		for key, nested := range s.Object.Attributes {
			converted, err := toHcldec(nested, key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = converted
		}
		return out, nil
	case s.Array != nil:
		out := hcldec.TupleSpec{}
		for i, nested := range s.Array.Values {
			converted, err := toHcldec(nested, "")
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out = append(out, converted)
		}
		return out, nil
	case s.Attr != nil:
		name := pick(s.Attr.Name, impliedName)
		if name == "" {
			return nil, errors.New("attribute spec without a name")
		}
		ty, err := typeOf(s.Attr.Type)
		if err != nil {
			return nil, err
		}
		return &hcldec.AttrSpec{Name: name, Type: ty, Required: s.Attr.Required}, nil
	case s.BlockValue != nil:
		nested, err := toHcldec(s.BlockValue.Nested, "")
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockSpec{TypeName: pick(s.BlockValue.Name, impliedName), Required: s.BlockValue.Required, Nested: nested}, nil
	case s.BlockAttrs != nil:
		ty, err := typeOf(s.BlockAttrs.Type)
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockAttrsSpec{TypeName: pick(s.BlockAttrs.Name, impliedName), ElementType: ty, Required: s.BlockAttrs.Required}, nil
	case s.BlockList != nil:
		nested, err := toHcldec(s.BlockList.Nested, "")
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockListSpec{TypeName: pick(s.BlockList.Name, impliedName), MinItems: int(s.BlockList.MinItems),
			MaxItems: int(s.BlockList.MaxItems), Nested: nested}, nil
	case s.BlockSet != nil:
		nested, err := toHcldec(s.BlockSet.Nested, "")
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockSetSpec{TypeName: pick(s.BlockSet.Name, impliedName), MinItems: int(s.BlockSet.MinItems),
			MaxItems: int(s.BlockSet.MaxItems), Nested: nested}, nil
	case s.BlockMap != nil:
		if len(s.BlockMap.Labels) == 0 {
			return nil, errors.New("block map spec without labels")
		}
		nested, err := toHcldec(s.BlockMap.Nested, "")
		if err != nil {
			return nil, err
		}
		return &hcldec.BlockMapSpec{TypeName: pick(s.BlockMap.Name, impliedName), LabelNames: s.BlockMap.Labels, Nested: nested}, nil
	case s.Default != nil:
		primary, err := toHcldec(s.Default.Primary, "")
		if err != nil {
			return nil, fmt.Errorf("primary: %w", err)
		}
		fallback, err := toHcldec(s.Default.Default, "")
		if err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
		return &hcldec.DefaultSpec{Primary: primary, Default: fallback}, nil
	default:
		expr, diags := hclsyntax.ParseExpression([]byte(s.Literal.Value), "literal", startPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("literal %q: %s", s.Literal.Value, diags.Error())
		}
		value, diags := expr.Value(&hcl.EvalContext{Functions: functions})
		if diags.HasErrors() {
			return nil, fmt.Errorf("literal %q: %s", s.Literal.Value, diags.Error())
		}
		return &hcldec.LiteralSpec{Value: value}, nil
	}
}

func pick(explicit, implied string) string {
	if explicit != "" {
		return explicit
	}
	return implied
}

func typeOf(source string) (cty.Type, error) {
	if source == "" {
		return cty.NilType, errors.New("attribute spec without a type")
	}
	expr, diags := hclsyntax.ParseExpression([]byte(source), "type", startPos)
	if diags.HasErrors() {
		return cty.NilType, fmt.Errorf("type %q: %s", source, diags.Error())
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	if diags.HasErrors() {
		return cty.NilType, fmt.Errorf("type %q: %s", source, diags.Error())
	}
	return ty, nil
}

// run answers one request: the hex bytes, or hcldec's diagnostics as an error.
func run(r request) (string, error) {
	spec, err := toHcldec(r.Spec, "")
	if err != nil {
		return "", usageError{fmt.Errorf("spec: %w", err)}
	}
	// The agent decodes an empty map when there is no config, so that defaults apply.
	var config interface{} = map[string]interface{}{}
	if len(r.Config) > 0 && string(r.Config) != "null" {
		decoder := json.NewDecoder(bytes.NewReader(r.Config))
		decoder.UseNumber() // numbers keep their exact text, as they would in Nomad's JSON
		if err := decoder.Decode(&config); err != nil {
			return "", usageError{fmt.Errorf("config: %w", err)}
		}
	}
	encoded, err := json.Marshal(config)
	if err != nil {
		return "", usageError{fmt.Errorf("config: %w", err)}
	}
	file, diags := hcljson.Parse(encoded, "config.json")
	if diags.HasErrors() {
		return "", errors.New(diags.Error())
	}
	ctx := &hcl.EvalContext{Functions: functions}
	if r.Variables != nil {
		ctx.Variables = map[string]cty.Value{}
		for name, value := range r.Variables {
			ctx.Variables[name] = cty.StringVal(value)
		}
	}
	value, diags := hcldec.Decode(file.Body, spec, ctx)
	if diags.HasErrors() {
		return "", errors.New(diags.Error())
	}
	packed, err := ctymsgpack.Marshal(value, value.Type())
	if err != nil {
		return "", fmt.Errorf("msgpack: %w", err)
	}
	return hex.EncodeToString(packed), nil
}

func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

func main() {
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(2, "reading stdin: %v", err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(input)), "[") {
		var requests []request
		if err := json.Unmarshal(input, &requests); err != nil {
			fail(2, "malformed request array: %v", err)
		}
		results := make([]result, len(requests))
		for i, r := range requests {
			out, err := run(r)
			var usage usageError
			if errors.As(err, &usage) {
				fail(2, "request %d: %v", i, err)
			}
			if err != nil {
				results[i] = result{Error: err.Error()}
			} else {
				results[i] = result{Hex: out}
			}
		}
		if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
			fail(2, "writing results: %v", err)
		}
		return
	}
	var r request
	if err := json.Unmarshal(input, &r); err != nil {
		fail(2, "malformed request: %v", err)
	}
	out, err := run(r)
	var usage usageError
	if errors.As(err, &usage) {
		fail(2, "%v", err)
	}
	if err != nil {
		fail(1, "%v", err)
	}
	fmt.Println(out)
}
