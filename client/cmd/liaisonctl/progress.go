package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressFlags choose whether long work (import, export) draws a progress
// line on stderr: by default when stderr is a terminal.
type progressFlags struct {
	on, off bool
}

func (p *progressFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&p.on, "progress", false, "show the progress line on stderr even when it is not a terminal")
	fs.BoolVar(&p.off, "no-progress", false, "never show the progress line")
}

// enabled says whether to draw, given where stderr goes.
func (p progressFlags) enabled(stderr io.Writer) (bool, error) {
	switch {
	case p.on && p.off:
		return false, usageErrorf("--progress and --no-progress contradict each other")
	case p.on:
		return true, nil
	case p.off:
		return false, nil
	}
	return isTerminal(stderr), nil
}

// isTerminal says whether w is a terminal (a character device), without a
// dependency for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressInterval bounds how often the line is redrawn (10 times a
// second).
const progressInterval = 100 * time.Millisecond

// progress counts work done and, when shown, redraws one line on w at
// most every progressInterval: count (of total, with a bar, if the total
// is known), rate and time left. Messages printed meanwhile through
// printf go above it. Safe for concurrent use.
type progress struct {
	w     io.Writer
	show  bool
	unit  string // "lines", "leads"
	total int64  // 0: unknown
	start time.Time

	mu    sync.Mutex
	done  int64
	width int // of the line drawn, to blank it
	stop  chan struct{}
	ended chan struct{}
}

// startProgress starts counting (and drawing, if show) work of total units
// (0 if unknown).
func startProgress(w io.Writer, show bool, total int64, unit string) *progress {
	p := &progress{w: w, show: show, unit: unit, total: total, start: time.Now(), stop: make(chan struct{}), ended: make(chan struct{})}
	if !show {
		close(p.ended)
		return p
	}
	p.draw() // at once: a start that is slow to show looks like a hang
	go func() {
		defer close(p.ended)
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// add counts n more units done.
func (p *progress) add(n int) {
	p.mu.Lock()
	p.done += int64(n)
	p.mu.Unlock()
}

// count is the units done so far.
func (p *progress) count() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// elapsed is the time since the start.
func (p *progress) elapsed() time.Duration { return time.Since(p.start) }

// printf writes a message on w, above the progress line.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, format, args...)
}

// end stops drawing and blanks the line; later calls do nothing.
func (p *progress) end() {
	if !p.show {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.ended
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

func (p *progress) clear() {
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func (p *progress) draw() {
	line := progressLine(p.done, p.total, p.unit, time.Since(p.start))
	pad := max(p.width-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

// progressLine is "[######------]  45%  45,000/100,000 lines  8,130/s
// ETA 7s", or without a total "45,000 leads  8,130/s".
func progressLine(done, total int64, unit string, elapsed time.Duration) string {
	rate := perSecond(done, elapsed)
	if total <= 0 {
		return fmt.Sprintf("%s %s  %s/s", thousands(done), unit, thousands(int64(rate)))
	}
	const barWidth = 24
	frac := min(float64(done)/float64(total), 1)
	filled := int(frac * barWidth)
	eta := "ETA -"
	if rate > 0 && done < total {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		eta = "ETA " + left.Round(time.Second).String()
	} else if done >= total {
		eta = "ETA 0s"
	}
	return fmt.Sprintf("[%s%s] %3d%%  %s/%s %s  %s/s  %s", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
		int(frac*100), thousands(done), thousands(total), unit, thousands(int64(rate)), eta)
}

// perSecond is n per second over d (0 before any time has passed).
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// thousands writes n with commas between groups of three digits: 8,130.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
