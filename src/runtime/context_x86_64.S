// x86-64 System V context switch for goroutines. See context.h for the contract.
// Frame saved on the old stack (low to high): MXCSR+x87 CW (8 bytes), r15, r14, r13, r12,
// rbx, rbp, return address. make_context (context.cc) builds the same frame for a new stack.
        .text
        .globl  spindle_switch_context
        .type   spindle_switch_context, @function
        .p2align 4
spindle_switch_context:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
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
