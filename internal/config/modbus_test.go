package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/otlink/otlink/internal/driver"
	// Link the real Modbus driver so that examples and configs naming
	// "modbus" are checked against its address rules.
	_ "github.com/otlink/otlink/internal/driver/modbus"
	"github.com/otlink/otlink/internal/errcode"
)

func TestRealModbusDriver(t *testing.T) {
	d, ok := driver.Lookup("modbus")
	if !ok {
		t.Fatal("modbus driver not registered")
	}
	if _, fake := d.(testbus); fake {
		t.Fatal("testbus stands in for modbus although the real driver is linked")
	}
	src := `version: 1
plant:
  enterprise: acme
  sites:
    - name: s1
      areas:
        - name: a1
          lines:
            - name: l1
              machines:
                - name: m1
                  device: plc
                  tags:
                    - {name: ok, address: "40001", type: uint16}
                    - {name: far, address: hr:70000, type: uint16}
                    - {name: coilfloat, address: coil:1, type: float32}
                    - {name: dup, address: hr:0, type: int32}
devices:
  - {name: plc, driver: modbus, endpoint: "tcp://127.0.0.1:502"}
`
	_, err := Parse("m.yaml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	var got []string
	for _, p := range errs {
		got = append(got, p.Code.String())
	}
	// 40001 is hr:0, so the int32 at hr:0 overlaps it.
	if strings.Join(got, " ") != "OTL-1023 OTL-1023 OTL-1024" {
		t.Errorf("got %v\n%v", got, err)
	}
	if !errs.Has(errcode.ConfigBadAddress) || errs[0].Line != 15 {
		t.Errorf("first problem %v", errs[0])
	}
}
