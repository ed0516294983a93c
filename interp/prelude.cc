// prelude.cc — the part of the core library written in SX itself.
//
// Only what gains nothing from C++: sorting with a user comparator (a merge
// sort whose comparisons are ordinary calls, so the comparator may perform).
namespace sx::interp {

const char* PreludeSource() {
  return R"SX(
(define (%merge less? a b)
  (let loop ((a a) (b b) (acc ()))
    (cond ((empty? a) (%rev-onto acc b))
          ((empty? b) (%rev-onto acc a))
          ((less? (first b) (first a)) (loop a (rest b) (cons (first b) acc)))
          (else (loop (rest a) b (cons (first a) acc))))))

(define (%rev-onto acc tail)
  (if (empty? acc) tail (%rev-onto (rest acc) (cons (first acc) tail))))

(define (%sort-with less? xs)
  (let ((n (len xs)))
    (if (< n 2)
        xs
        (let ((half (quot n 2)))
          (%merge less? (%sort-with less? (take xs half)) (%sort-with less? (drop xs half)))))))

(define (sort a &rest more)
  "(sort list) sorts by the natural order (numbers, strings, ...); (sort list less?) or (sort less? list) sorts with a comparator. Stable."
  (cond ((empty? more) (%sort a))
        ((list? a) (%sort-with (first more) a))
        (else (%sort-with a (first more)))))
)SX";
}

}  // namespace sx::interp
