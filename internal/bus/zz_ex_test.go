package bus
import ("testing";"fmt")
func TestPrintExample(t *testing.T){ fmt.Printf("%x\n", AppendBatch(nil, exampleBatch())); fmt.Println(exampleHex) }
