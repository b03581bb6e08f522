package reports

import (
	"bufio"
	"encoding/csv"
	"io"

	"github.com/xuri/excelize/v2"
)

// sheet is where a report's rows go, the header first.
type sheet interface {
	Row(cells []string) error
	Close() error
}

// csvSheet writes UTF-8 with a byte-order mark, which Excel needs to read Chinese text.
type csvSheet struct {
	buf *bufio.Writer
	w   *csv.Writer
}

func newCSV(out io.Writer) (sheet, error) {
	b := bufio.NewWriterSize(out, 64<<10)
	if _, err := b.WriteString("\uFEFF"); err != nil {
		return nil, err
	}
	return &csvSheet{buf: b, w: csv.NewWriter(b)}, nil
}

func (c *csvSheet) Row(cells []string) error { return c.w.Write(cells) }

func (c *csvSheet) Close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.buf.Flush()
}

// xlsxSheet writes one worksheet with excelize's StreamWriter, which keeps rows on disk,
// not in memory.
type xlsxSheet struct {
	out io.Writer
	f   *excelize.File
	sw  *excelize.StreamWriter
	n   int
}

func newXLSX(out io.Writer) (sheet, error) {
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &xlsxSheet{out: out, f: f, sw: sw}, nil
}

func (x *xlsxSheet) Row(cells []string) error {
	x.n++
	cell, err := excelize.CoordinatesToCellName(1, x.n)
	if err != nil {
		return err
	}
	row := make([]any, len(cells))
	for i, c := range cells {
		row[i] = c
	}
	return x.sw.SetRow(cell, row)
}

func (x *xlsxSheet) Close() error {
	defer x.f.Close()
	if err := x.sw.Flush(); err != nil {
		return err
	}
	return x.f.Write(x.out)
}
