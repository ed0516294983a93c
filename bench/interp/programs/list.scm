(define (range n) (let loop ((i (- n 1)) (acc '())) (if (< i 0) acc (loop (- i 1) (cons i acc)))))
(define (filter p xs) (let loop ((xs xs) (acc '())) (if (null? xs) (reverse acc) (loop (cdr xs) (if (p (car xs)) (cons (car xs) acc) acc)))))
(display (length (filter even? (map (lambda (x) (* x 3)) (range 1000000))))) (newline)
