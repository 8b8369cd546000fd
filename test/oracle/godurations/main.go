// Command godurations is the oracle for src/config/Duration.ts: it runs Go's own time.ParseDuration, the
// parser the original driver and Nomad use for options like image_pull_timeout, over a fixed list of inputs and
// prints each input with what Go made of it, as the fixture test/fixtures/go-durations.json:
//
//	go run test/oracle/godurations/main.go > test/fixtures/go-durations.json
//
// The inputs are the hand-picked cases below (units, fractions, signs, "0", missing units, overflow, empty,
// several units) plus pseudo-random well-formed and malformed strings from a fixed seed, so the fixture is
// reproducible with any Go release whose ParseDuration behaves the same. Only the standard library is used.
package main

import (
	"encoding/json"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// handPicked are the cases a reader can check by eye; each line groups one concern.
var handPicked = []string{
	// every unit, both micro signs
	"1ns", "1us", "1µs", "1μs", "1ms", "1s", "1m", "1h", "5m", "300ms", "7us", "250ms", "90s", "45m", "36h",
	// zero, with and without a unit or sign
	"0", "+0", "-0", "00", "0s", "-0s", "0h0m0s", "0.0s", "000001s",
	// signs
	"-5m", "+5m", "-1h30m", "+1.5h", "-.5s", "+.5s", "--5s", "+-5s", "-+5s", "-", "+", "1h-2m", "1h+2m",
	// fractions
	"1.5h", ".5s", "1.s", "1.0s", "0.5ms", "1.5ns", "1.9ns", "0.1ns", "0.3s", "0.7h", "1.5µs", "1.5us", "2.5m",
	"1.000000001s", "0.0000000001s", "3.999999999ns", "1.1111111111111111111111h", ".99999999999999999999999h",
	"1.00000000000000000001h", "0.123456789123456789123456789s", "1.000000000000000000000000001ns", ".0000001h",
	// several units, in any order, repeated
	"1h2m3.4s", "2h45m", "1h30m", "1m60s", "1s1m1h", "1h1h", "1.5h1.5m1.5s1.5ms1.5us1.5ns", "3m0.5s",
	// the limits of an int64 of nanoseconds
	"9223372036854775807ns", "9223372036854775808ns", "-9223372036854775808ns", "-9223372036854775809ns",
	"2562047h", "2562048h", "-2562048h", "2562047h47m16.854775807s", "2562047h47m16.854775808s",
	"-2562047h47m16.854775808s", "-2562047h47m16.854775809s", "9223372036854775.807ms", "9223372036854775.808us",
	"18446744073709551616ns", "99999999999999999999s", "9223372036s", "9223372037s", "153722867m", "153722868m",
	"2562047.788015215h", "2562047.7880152156h", "1h9223372036854775807ns",
	// numbers without a unit
	"5", "1.5", "9223372036854775807", "-5", ".5",
	// not durations at all
	"", ".", ".s", "s", "h", "5x", "5 s", " 5s", "5s ", "1h 2m", "1e3s", "1S", "1H", "1Ms", "1MS", "1sec", "1min",
	"1hr", "1d", "1w", "5..5s", "5.5.5s", "0x10s", "１s", "5µ", "5m\n", "1s\x00", "1\"s", "1\\s", "1ns5", "1.5.s",
	"inf", "NaN", "1_000s", "1,5s",
	// a number too long is refused before its unit is looked at; fraction digits past the 19th are dropped
	"99999999999999999999x", "99999999999999999999", "9223372036854775809h", ".92233720368547758090s", ".92233720368547758090h",
	"1.9223372036854775808h", "0.99999999999999999999999999ns", "1constructor", "1__proto__", "1toString", "1hasOwnProperty",
	// how Go quotes what it cannot print: control characters and DEL-adjacent bytes, non-ASCII as UTF-8 bytes
	"1\x1f", "1\x7f", "1\u0080", "5\ufffd", "1\t", "5☃",
}

// wellFormed builds a duration Go should accept: up to four components with optional fractions and a sign.
func wellFormed(r *rand.Rand) string {
	units := []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"}
	var b strings.Builder
	switch r.Intn(4) {
	case 0:
		b.WriteString("-")
	case 1:
		b.WriteString("+")
	}
	for n := 1 + r.Intn(4); n > 0; n-- {
		if r.Intn(5) > 0 {
			b.WriteString(strconv.Itoa(r.Intn([]int{10, 1000, 100000, 1000000000}[r.Intn(4)])))
		}
		if r.Intn(2) == 0 || b.Len() == 0 || strings.HasSuffix(b.String(), "-") || strings.HasSuffix(b.String(), "+") {
			b.WriteString(".")
			for d := 1 + r.Intn(12); d > 0; d-- {
				b.WriteByte(byte('0' + r.Intn(10)))
			}
		}
		b.WriteString(units[r.Intn(len(units))])
	}
	return b.String()
}

// malformed strings together the alphabet of durations, in any order, mostly not durations.
func malformed(r *rand.Rand) string {
	alphabet := []string{"0", "1", "5", "9", ".", "+", "-", "h", "m", "s", "n", "u", "µ", " ", "x"}
	var b strings.Builder
	for n := 1 + r.Intn(8); n > 0; n-- {
		b.WriteString(alphabet[r.Intn(len(alphabet))])
	}
	return b.String()
}

type row struct {
	In    string `json:"in"`
	Nanos string `json:"nanos,omitempty"`
	Error string `json:"error,omitempty"`
}

type fixture struct {
	Generator string `json:"generator"`
	Go        string `json:"go"`
	Note      string `json:"note"`
	Cases     []row  `json:"cases"`
}

func main() {
	r := rand.New(rand.NewSource(15))
	inputs := append([]string{}, handPicked...)
	for i := 0; i < 300; i++ {
		inputs = append(inputs, wellFormed(r))
	}
	for i := 0; i < 300; i++ {
		inputs = append(inputs, malformed(r))
	}
	seen := map[string]bool{}
	rows := []row{}
	for _, in := range inputs {
		if seen[in] {
			continue
		}
		seen[in] = true
		d, err := time.ParseDuration(in)
		if err != nil {
			rows = append(rows, row{In: in, Error: err.Error()})
		} else {
			rows = append(rows, row{In: in, Nanos: strconv.FormatInt(int64(d), 10)})
		}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	out.SetIndent("", "  ")
	if err := out.Encode(fixture{
		Generator: "go run test/oracle/godurations/main.go",
		Go:        runtime.Version(),
		Note:      "nanos is time.ParseDuration's int64 result as a decimal string; error is its error text",
		Cases:     rows,
	}); err != nil {
		os.Exit(1)
	}
}
