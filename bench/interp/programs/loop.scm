(define (loop i acc) (if (> i 10000000) acc (loop (+ i 1) (+ acc i))))
(display (loop 0 0)) (newline)
