(define d (make-hash-table))
(define keys (let loop ((i 199999) (acc '())) (if (< i 0) acc (loop (- i 1) (cons (string-append "key" (number->string i)) acc)))))
(for-each (lambda (k) (hash-set! d k 1)) keys)
(display (let loop ((ks keys) (acc 0)) (if (null? ks) acc (loop (cdr ks) (+ acc (hash-ref d (car ks))))))) (newline)
