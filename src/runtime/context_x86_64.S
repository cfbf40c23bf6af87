// x86-64 System V context switch for goroutines. See context.h for the contract.
// Frame saved on the old stack (low to high): MXCSR + x87 CW (8 bytes), r12, r13, r14, r15,
// rbx, rbp, return address. make_context (context.cc) builds the same frame for a new stack.
// Measured choices (docs/runtime.md, "Context switch"): plain moves instead of push/pop, and an
// indirect jump instead of `ret` (the return address belongs to another call site, so `ret`
// would mispredict through the return stack buffer at every switch: 21 -> 9 ns a round trip).
// Loading MXCSR and the x87 CW unconditionally measured faster than comparing first.
        .text
        .globl  spindle_switch_context
        .type   spindle_switch_context, @function
        .p2align 4
spindle_switch_context:
        .cfi_startproc
        leaq    -0x38(%rsp), %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %r12, 0x08(%rsp)
        movq    %r13, 0x10(%rsp)
        movq    %r14, 0x18(%rsp)
        movq    %r15, 0x20(%rsp)
        movq    %rbx, 0x28(%rsp)
        movq    %rbp, 0x30(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        movq    0x08(%rsp), %r12
        movq    0x10(%rsp), %r13
        movq    0x18(%rsp), %r14
        movq    0x20(%rsp), %r15
        movq    0x28(%rsp), %rbx
        movq    0x30(%rsp), %rbp
        movq    0x38(%rsp), %rcx
        leaq    0x40(%rsp), %rsp
        jmp     *%rcx
        .cfi_endproc
        .size   spindle_switch_context, .-spindle_switch_context

// First code run on a new stack: calls entry(arg) (r13, r12 from make_context's frame).
// The undefined return address ends backtraces here.
        .globl  spindle_context_trampoline
        .type   spindle_context_trampoline, @function
        .p2align 4
spindle_context_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r12, %rdi
        callq   *%r13
        ud2
        .cfi_endproc
        .size   spindle_context_trampoline, .-spindle_context_trampoline

        .section .note.GNU-stack,"",@progbits
