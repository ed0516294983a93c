(define (build i s) (if (= i 100000) s (build (+ i 1) (string-append s "x"))))
(display (string-length (build 0 ""))) (newline)
